/**
 * Mints an HS256 token for local use:
 *   pnpm dev-token [tenant_id] [sub] [ttl_seconds]
 * Signed with JWT_SECRET, or the development secret the services use when it is unset.
 */
import { SignJWT } from 'jose'
import { DEV_SECRET } from '../packages/service-kit/src/auth.ts'

const [tenantId = 'tenant_demo', sub = 'dev-user', ttl = '3600'] = process.argv.slice(2).filter(a => a !== '--')
const seconds = Number(ttl)
if (!Number.isInteger(seconds) || seconds <= 0) {
  console.error('usage: pnpm dev-token [tenant_id] [sub] [ttl_seconds]')
  process.exit(2)
}
const secret = new TextEncoder().encode(process.env.JWT_SECRET ?? DEV_SECRET)
const token = await new SignJWT({ tenant_id: tenantId })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(sub)
  .setIssuedAt()
  .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
  .sign(secret)
console.log(token)
