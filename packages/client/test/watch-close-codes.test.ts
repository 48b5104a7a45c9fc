/** What each close code does (docs/protocol.md's table), with a fake server. */
import t from 'tap'
import { backoffCap } from '../src/backoff.ts'
import { fakeServer } from './helpers/fake-socket.ts'
import { product, snapshot } from './helpers/messages.ts'
import { FAST_BACKOFF, openWatch, startWatch } from './helpers/watch.ts'

for (const code of [1001, 1006, 1011, 1012, 1013]) {
  t.test(`${code}: reconnect with back-off and a fresh token, resuming after the last event`, async t => {
    const { server, r, socket: first } = await openWatch()
    first.deliver(product('101-0', 1))
    first.serverClose(code, 'bye')
    t.equal(r.watch.connection, 'reconnecting')
    t.equal(r.retries.length, 1)
    const [retry] = r.retries
    t.match(retry, { attempt: 1, reason: { kind: 'close', code, reason: 'bye' } })
    t.ok(retry !== undefined && retry.delayMs >= 0 && retry.delayMs < FAST_BACKOFF.initialMs + 1, `delay ${retry?.delayMs} within the first cap`)
    const second = await server.socket(2)
    t.equal(second.lastId, '101-0')
    t.equal(second.token, 'token-2', 'getToken was called again')
    second.open()
    t.strictSame(r.connections, ['open', 'reconnecting', 'open'])
    second.deliver(snapshot({ last_id: '101-0', progress: 35, products_completed: 1, recovered: true }))
    second.deliver(product('102-0', 2))
    t.equal(r.watch.state.progress, 50)
    r.watch.close()
  })
}

t.test('4001: a fresh token and at once, resuming after the last event', async t => {
  const { server, r, socket: first } = await openWatch({ backoff: { initialMs: 60_000, maxMs: 60_000 } })
  first.deliver(product('101-0', 1))
  first.serverClose(4001, 'token expired')
  t.match(r.retries, [{ delayMs: 0, reason: { kind: 'close', code: 4001 } }])
  const second = await server.socket(2)
  t.equal(second.token, 'token-2')
  t.equal(second.lastId, '101-0')
  r.watch.close()
})

for (const code of [1008, 1009]) {
  t.test(`${code}: give up with POLICY, since reconnecting would repeat it`, async t => {
    const { server, r, socket } = await openWatch()
    socket.serverClose(code, 'message rate exceeded')
    await t.rejects(r.watch.done, { name: 'WatchError', code: 'POLICY', closeCode: code, status: undefined })
    t.equal(r.errors.length, 1)
    t.match(r.errors[0]?.message, new RegExp(`close ${code} message rate exceeded`))
    t.equal(r.watch.connection, 'closed')
    t.strictSame(r.retries, [])
    t.strictSame(r.ends, [], 'giving up is not the job\'s end')
    t.equal(server.sockets.length, 1)
  })
}

t.test('closed before it opened (what a browser shows of a refusal): back-off, a fresh token each time, still connecting', async t => {
  const server = fakeServer('browser')
  const r = startWatch(server, { backoff: { initialMs: 1, maxMs: 8, factor: 2 } })
  for (let n = 1; n <= 4; n++) {
    const socket = await server.socket(n)
    t.equal(socket.token, `token-${n}`)
    socket.serverClose(1006)
  }
  const last = await server.socket(5)
  t.equal(r.watch.connection, 'connecting', 'never open yet: still connecting')
  t.strictSame(r.connections, [])
  t.strictSame(r.retries.map(i => i.attempt), [1, 2, 3, 4])
  t.strictSame(r.retries.map(i => i.reason), [1, 2, 3, 4].map(() => ({ kind: 'unreachable', code: 1006 })))
  r.retries.forEach((info, i) => t.ok(info.delayMs < backoffCap(i, { initialMs: 1, maxMs: 8, factor: 2 }), `retry ${i + 1}: ${info.delayMs} ms under its cap`))
  t.equal(last.lastId, null, 'nothing to resume from yet')
  r.watch.close()
})

t.test('the attempt counter starts again once a connection gets its snapshot', async t => {
  const server = fakeServer('browser')
  const r = startWatch(server)
  ;(await server.socket(1)).serverClose(1006)
  ;(await server.socket(2)).serverClose(1006)
  const third = await server.socket(3)
  third.open()
  third.serverClose(1012)
  t.strictSame(r.retries.map(i => i.attempt), [1, 2, 3], 'open without a snapshot does not count as working')
  const fourth = await server.socket(4)
  fourth.open()
  fourth.deliver(snapshot())
  fourth.serverClose(1012)
  t.equal(r.retries.at(-1)?.attempt, 1, 'after a snapshot, the back-off starts from its first step')
  r.watch.close()
})
