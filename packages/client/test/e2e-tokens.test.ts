/**
 * Tokens against a real gateway: one that expires mid-job (close 4001, a
 * fresh one at once, nothing lost), and the handshake refusals Node sees
 * (401 then a fresh token, 401 twice, 403, 400).
 */
import t from 'tap'
import { jobEvents, mintToken, uniqueId, within } from '@training-live/test-kit'
import { historyIds, publishJob, recordWatch, startStack, until } from './helpers/stack.ts'

const s = await startStack(t, 'client-tokens', { replicas: 1, gateways: 1 })
const gateway = s.gateways[0] as typeof s.gateways[0]

t.test('a token that expires mid-job: getToken is called again at once, and no event is lost', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  // Two seconds at most (exp counts whole seconds); the job lasts about five.
  const r = recordWatch({ baseUrl: gateway.wsUrl, tenantId, jobId, getToken: async () => await mintToken({ tenantId, expiresIn: 2 }) })
  t.teardown(() => r.watch.close())
  await until('the first snapshot', () => r.snapshots === 1)
  const events = jobEvents(tenantId, jobId, Array.from({ length: 40 }, (_, i) => `product-${i}`))
  await publishJob(s.publisher, events, 120)
  const view = await within(r.watch.done, 60_000, 'the job\'s end')
  t.match(view, { status: 'completed', progress: 100, products_completed: 40 })
  const expiries = r.retries.filter(i => i.reason.kind === 'close' && i.reason.code === 4001)
  t.ok(expiries.length >= 1, `closed with 4001 ${expiries.length} times`)
  t.ok(expiries.every(i => i.delayMs === 0), 'and reconnected at once each time')
  t.equal(r.tokens(), 1 + r.retries.length, 'a fresh token for every connection')
  t.strictSame(r.ids, await historyIds(gateway, tenantId, jobId), 'every event once, in order')
})

t.test('401 (an expired token): a fresh token, at once, and the watch goes on', async t => {
  const tenantId = uniqueId('tenant')
  let calls = 0
  const r = recordWatch({
    baseUrl: gateway.wsUrl,
    tenantId,
    jobId: uniqueId('job'),
    getToken: async () => await mintToken({ tenantId, expiresIn: ++calls === 1 ? -60 : 600 })
  })
  await until('the snapshot', () => r.snapshots === 1)
  t.match(r.retries, [{ delayMs: 0, reason: { kind: 'refused', status: 401, serverCode: 'GATEWAY_TOKEN_EXPIRED' } }])
  t.equal(r.tokens(), 2)
  t.match(r.watch.state, { status: 'pending', progress: 0, last_id: null })
  r.watch.close()
})

t.test('refusals that would only repeat: a second 401, 403, 400', async t => {
  const tenantId = uniqueId('tenant')
  const cases = [
    { what: 'always expired', code: 'AUTH', serverCode: 'GATEWAY_TOKEN_EXPIRED', tokens: 2, jobId: uniqueId('job'), token: { tenantId, expiresIn: -60 } },
    { what: 'another tenant\'s token', code: 'FORBIDDEN', serverCode: 'GATEWAY_TENANT_FORBIDDEN', tokens: 1, jobId: uniqueId('job'), token: { tenantId: 'tenant_other' } },
    { what: 'a malformed job id', code: 'BAD_REQUEST', serverCode: 'FST_ERR_VALIDATION', tokens: 1, jobId: 'not a job id!', token: { tenantId } }
  ]
  for (const c of cases) {
    const r = recordWatch({ baseUrl: gateway.wsUrl, tenantId, jobId: c.jobId, getToken: async () => await mintToken(c.token) })
    await t.rejects(r.watch.done, { name: 'WatchError', code: c.code, serverCode: c.serverCode }, c.what)
    t.equal(r.tokens(), c.tokens, `${c.what}: getToken called ${c.tokens} time(s)`)
    t.equal(r.watch.connection, 'closed')
  }
})
