/** Handshakes refused with an HTTP status, as Node's `ws` reports them (a fake one here). */
import t from 'tap'
import { fakeServer, settle } from './helpers/fake-socket.ts'
import { snapshot } from './helpers/messages.ts'
import { startWatch } from './helpers/watch.ts'

const SLOW = { initialMs: 60_000, maxMs: 60_000 }

t.test('401: a fresh token and a retry at once', async t => {
  const server = fakeServer('node')
  const r = startWatch(server, { backoff: SLOW })
  ;(await server.socket(1)).refuse(401, { body: JSON.stringify({ statusCode: 401, code: 'GATEWAY_TOKEN_EXPIRED' }) })
  await settle()
  t.match(r.retries, [{ delayMs: 0, reason: { kind: 'refused', status: 401, serverCode: 'GATEWAY_TOKEN_EXPIRED' } }])
  const second = await server.socket(2)
  t.equal(second.token, 'token-2')
  second.open()
  second.deliver(snapshot())
  t.equal(r.watch.state.progress, 20)
  r.watch.close()
})

t.test('401 twice in a row: give up with AUTH', async t => {
  const server = fakeServer('node')
  const r = startWatch(server, { backoff: SLOW })
  ;(await server.socket(1)).refuse(401)
  ;(await server.socket(2)).refuse(401, { body: JSON.stringify({ code: 'GATEWAY_TOKEN_INVALID' }) })
  await t.rejects(r.watch.done, { name: 'WatchError', code: 'AUTH', status: 401, serverCode: 'GATEWAY_TOKEN_INVALID', closeCode: undefined })
  t.match(r.errors[0]?.message, /HTTP 401 GATEWAY_TOKEN_INVALID/)
  t.equal(r.tokens(), 2, 'getToken was asked twice')
  t.equal(server.sockets.length, 2)
})

t.test('401s that are not in a row do not give up', async t => {
  const server = fakeServer('node')
  const r = startWatch(server)
  ;(await server.socket(1)).refuse(401)
  ;(await server.socket(2)).refuse(503)
  ;(await server.socket(3)).refuse(401)
  const fourth = await server.socket(4)
  fourth.open()
  fourth.serverClose(4001)
  ;(await server.socket(5)).refuse(401)
  await server.socket(6)
  t.strictSame(r.errors, [])
  t.equal(r.tokens(), 6)
  r.watch.close()
})

t.test('403: give up with FORBIDDEN', async t => {
  const server = fakeServer('node')
  const r = startWatch(server)
  ;(await server.socket(1)).refuse(403, { body: JSON.stringify({ statusCode: 403, code: 'GATEWAY_TENANT_FORBIDDEN' }) })
  await t.rejects(r.watch.done, { code: 'FORBIDDEN', status: 403, serverCode: 'GATEWAY_TENANT_FORBIDDEN' })
  t.strictSame(r.retries, [])
})

t.test('400: give up with BAD_REQUEST (a body that is not JSON, or has no code, names none)', async t => {
  for (const body of ['<html>bad</html>', '{"statusCode":400}']) {
    const server = fakeServer('node')
    const r = startWatch(server)
    ;(await server.socket(1)).refuse(400, { body })
    await t.rejects(r.watch.done, { code: 'BAD_REQUEST', status: 400, serverCode: undefined })
    t.match(r.errors[0]?.message, /\(HTTP 400\)$/)
  }
})

t.test('429 and 503: after Retry-After, at most maxMs', async t => {
  const server = fakeServer('node')
  const r = startWatch(server, { backoff: { initialMs: 1, maxMs: 60_000 } })
  ;(await server.socket(1)).refuse(503, { headers: { 'retry-after': ['0'] } })
  ;(await server.socket(2)).refuse(429, { headers: { 'retry-after': '30' } })
  await settle()
  t.strictSame(r.retries.map(i => i.delayMs), [0, 30_000])
  t.match(r.retries, [{ reason: { kind: 'refused', status: 503 } }, { reason: { kind: 'refused', status: 429 } }])
  r.watch.close()

  const bounded = fakeServer('node')
  const b = startWatch(bounded, { backoff: { initialMs: 1, maxMs: 4 } })
  ;(await bounded.socket(1)).refuse(503, { headers: { 'retry-after': '5' } })
  await settle()
  t.equal(b.retries[0]?.delayMs, 4, 'a Retry-After of 5 s waits maxMs (4 ms) at most')
  await bounded.socket(2)
  b.watch.close()
})

t.test('503 without Retry-After, and other statuses: back-off', async t => {
  const server = fakeServer('node')
  const r = startWatch(server, { backoff: { initialMs: 1, maxMs: 8, factor: 2 } })
  ;(await server.socket(1)).refuse(503)
  ;(await server.socket(2)).refuse(502, { body: 'Bad Gateway' })
  ;(await server.socket(3)).refuse(404)
  ;(await server.socket(4)).refuse(undefined)
  await server.socket(5)
  t.strictSame(r.retries.map(i => i.attempt), [1, 2, 3, 4])
  t.match(r.retries[3], { reason: { kind: 'refused', status: 0 } }, 'a response without a status counts as 0')
  t.ok(r.retries.every((i, n) => i.delayMs < 2 ** n), 'each under its cap')
  r.watch.close()
})

t.test('the body is read whole across chunks, and only its first few KiB', async t => {
  const server = fakeServer('node')
  const r = startWatch(server)
  ;(await server.socket(1)).refuse(403, { chunks: ['{"statusCode":403,', '"code":"GATEWAY_TENANT_FORBIDDEN"}'] })
  await t.rejects(r.watch.done, { name: 'WatchError', serverCode: 'GATEWAY_TENANT_FORBIDDEN' })

  const big = fakeServer('node')
  const b = startWatch(big)
  ;(await big.socket(1)).refuse(403, { chunks: ['{"padding":"' + 'x'.repeat(5000), '","code":"NEVER_READ"}'] })
  await t.rejects(b.watch.done, { code: 'FORBIDDEN', serverCode: undefined })
})
