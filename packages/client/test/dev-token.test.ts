import t from 'tap'
import { jwtVerify } from 'jose'
import { DEVELOPMENT_JWT_SECRET as DEV_SECRET } from '@training-live/events'
import { devTokenSource } from '../src/cli/dev-token.ts'

const key = (secret: string) => new TextEncoder().encode(secret)

t.test('signed with JWT_SECRET, a fresh token per call, with the claims the services require', async t => {
  const getToken = await devTokenSource('tenant_cli', { JWT_SECRET: 'a-secret-of-sixteen-chars' })
  const token = await getToken()
  const { payload, protectedHeader } = await jwtVerify(token, key('a-secret-of-sixteen-chars'), { algorithms: ['HS256'] })
  t.equal(protectedHeader.alg, 'HS256')
  t.equal(payload.tenant_id, 'tenant_cli')
  t.equal(payload.sub, 'watch-cli')
  const now = Math.floor(Date.now() / 1000)
  t.ok(typeof payload.exp === 'number' && payload.exp >= now + 3590 && payload.exp <= now + 3601, 'an hour')
})

t.test('without JWT_SECRET (or with it empty): the services\' development secret', async t => {
  for (const env of [{}, { JWT_SECRET: '' }]) {
    const token = await (await devTokenSource('tenant_cli', env))()
    const { payload } = await jwtVerify(token, key(DEV_SECRET))
    t.equal(payload.tenant_id, 'tenant_cli')
  }
})
