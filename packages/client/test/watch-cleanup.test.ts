/** close(), AbortSignal, and failures on the way to a socket: nothing left running afterwards. */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { fakeServer, settle } from './helpers/fake-socket.ts'
import { snapshot } from './helpers/messages.ts'
import { firstSocket, openWatch, pendingTimers, startWatch } from './helpers/watch.ts'

t.test('close() during a back-off wait: no timer left, no further socket', async t => {
  const { server, r, socket, timersBefore } = await firstSocket({ backoff: { initialMs: 60_000, maxMs: 60_000 } })
  socket.open()
  socket.serverClose(1012)
  t.equal(pendingTimers(), timersBefore + 1, 'the back-off timer is pending')
  r.watch.close()
  t.equal(pendingTimers(), timersBefore, 'close() cleared it')
  t.strictSame(await r.watch.done, r.watch.state)
  t.strictSame(r.connections, ['open', 'reconnecting', 'closed'])
  t.strictSame(r.ends, [], 'close() is not the job\'s end')
  await sleep(20)
  t.equal(server.sockets.length, 1)
})

t.test('close() while the socket opens: the socket closed, its open timer cleared', async t => {
  const { r, socket, timersBefore } = await firstSocket()
  t.equal(pendingTimers(), timersBefore + 1, 'the open timeout is pending')
  r.watch.close()
  t.equal(pendingTimers(), timersBefore)
  t.strictSame(socket.closedByClient, { code: 1000, reason: 'client closed' })
  socket.open()
  await settle()
  t.strictSame(r.retries, [], 'the close that follows is not taken for a failure')
  t.strictSame(r.connections, ['closed'], 'nor an open that comes too late')
})

t.test('close() on an open socket: closed with 1000, done resolves with the view', async t => {
  const { r, socket, timersBefore } = await openWatch()
  t.equal(pendingTimers(), timersBefore, 'nothing pending while open')
  r.watch.close()
  r.watch.close()
  t.strictSame(socket.closedByClient, { code: 1000, reason: 'client closed' })
  t.match(await r.watch.done, { progress: 20 })
  t.strictSame(r.connections, ['open', 'closed'])
  socket.deliver(snapshot({ progress: 90 }))
  t.equal(r.watch.state.progress, 20, 'nothing is handled after close()')
})

t.test('close() while getToken is pending: no socket once it resolves', async t => {
  const server = fakeServer('browser')
  let release!: (token: string) => void
  const r = startWatch(server, { getToken: async () => await new Promise<string>(resolve => { release = resolve }) })
  await settle()
  r.watch.close()
  release('late-token')
  await settle()
  t.equal(server.sockets.length, 0)
})

t.test('an AbortSignal closes the watch; one already aborted never connects', async t => {
  const controller = new AbortController()
  const { server, r, socket, timersBefore } = await firstSocket({ signal: controller.signal })
  controller.abort()
  t.equal(r.watch.connection, 'closed')
  t.ok(socket.closedByClient !== null)
  t.equal(pendingTimers(), timersBefore)
  await r.watch.done

  let asked = 0
  const never = startWatch(server, { signal: AbortSignal.abort(), getToken: () => { asked++; return 't' } })
  t.equal(never.watch.connection, 'closed')
  await never.watch.done
  await settle()
  t.equal(asked, 0, 'getToken was not even called')
  t.equal(server.sockets.length, 1)
})

t.test('a listener may close the watch: from retry (no timer set), from message (no state event)', async t => {
  const { r, socket, timersBefore } = await firstSocket()
  r.watch.on('retry', () => r.watch.close())
  socket.open()
  socket.serverClose(1006)
  t.equal(r.retries.length, 1)
  t.equal(pendingTimers(), timersBefore)

  const other = await firstSocket()
  other.r.watch.on('message', () => other.r.watch.close())
  other.socket.open()
  other.socket.deliver(snapshot())
  t.equal(other.r.messages.length, 1)
  t.strictSame(other.r.states, [])
})

t.test('a socket that does not open in time is dropped and retried', async t => {
  const { server, r, socket } = await firstSocket({ openTimeoutMs: 10 })
  const second = await server.socket(2)
  t.ok(socket.closedByClient !== null, 'the first socket was closed')
  t.match(r.retries[0], { attempt: 1, reason: { kind: 'timeout' } })
  second.open()
  t.equal(r.watch.connection, 'open')
  r.watch.close()
})

t.test('getToken failing, and the WebSocket constructor throwing: retried with back-off', async t => {
  let calls = 0
  const { server, r, socket } = await firstSocket({
    getToken: async () => {
      if (++calls === 1) throw new Error('token service down')
      return `token-${calls}`
    }
  })
  t.equal(socket.token, 'token-2')
  t.match(r.retries, [{ attempt: 1, reason: { kind: 'token', error: { message: 'token service down' } } }])
  r.watch.close()

  let built = 0
  const Throwing = class extends server.WebSocket {
    constructor (url: string, protocols?: string | string[]) {
      if (++built === 1) throw new SyntaxError('bad subprotocol')
      super(url, protocols)
    }
  }
  const again = startWatch(server, { WebSocket: Throwing })
  await server.socket(2)
  t.match(again.retries, [{ attempt: 1, reason: { kind: 'socket', error: { name: 'SyntaxError' } } }])
  again.watch.close()
})
