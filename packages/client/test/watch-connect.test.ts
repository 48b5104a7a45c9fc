/** Connecting, the snapshot, live events and the job's end, against a fake server. */
import t from 'tap'
import { fakeServer, settle } from './helpers/fake-socket.ts'
import { JOB, TENANT, completed, product, snapshot } from './helpers/messages.ts'
import { liveIds, openWatch, reconnected, startWatch } from './helpers/watch.ts'

const LIVE_URL = `ws://gateway.test/api/v1/tenants/${TENANT}/training/jobs/${JOB}/live`

t.test('connects with the token as the bearer subprotocol, without last_id the first time', async t => {
  const server = fakeServer('browser')
  const r = startWatch(server)
  t.equal(r.watch.connection, 'connecting')
  t.match(r.watch.state, { tenant_id: TENANT, job_id: JOB, status: 'pending', progress: 0, last_id: null })
  const socket = await server.socket(1)
  t.equal(socket.url, LIVE_URL, 'no token and no last_id in the URL')
  t.strictSame(socket.protocols, ['bearer', 'token-1'])
  socket.open()
  t.strictSame(r.connections, ['open'])
  socket.deliver(snapshot())
  t.equal(r.messages.length, 1)
  t.equal(r.messages[0]?.type, 'connected')
  t.equal(r.states.length, 1)
  t.match(r.watch.state, { status: 'running', progress: 20, products_completed: 0, total_products: 4, current_step: 'Data Analysis', last_id: '100-0' })
  t.equal(r.states[0], r.watch.state, 'the state event carries the view')
  r.watch.close()
})

t.test('live events advance the state; pongs and errors reach message listeners only; other frames are ignored', async t => {
  const { r, socket } = await openWatch()
  socket.deliver(product('101-0', 1))
  t.match(r.watch.state, { progress: 35, products_completed: 1, current_step: 'Trained p1', last_id: '101-0' })
  t.equal(r.states.length, 2)
  let seenInListener: number | undefined
  r.watch.once('message', () => { seenInListener = r.watch.state.progress })
  socket.deliver(product('102-0', 2))
  t.equal(seenInListener, 50, 'a message listener already sees the state that message made')
  socket.deliver({ type: 'pong' })
  socket.deliver({ type: 'error', code: 'TRAINING_BAD_MESSAGE', message: 'bad' })
  t.strictSame(r.messages.map(m => m.type), ['connected', 'product_completed', 'product_completed', 'pong', 'error'])
  t.equal(r.states.length, 3, 'no state event for a pong or an error')
  for (const frame of ['not json', '42', 'null', '{"no":"type"}', new Uint8Array([123, 125])]) socket.deliver(frame)
  t.equal(r.messages.length, 5, 'frames that are not server messages are dropped')
  r.watch.close()
})

t.test('a live event already handled is not handed on again', async t => {
  const { r, socket } = await openWatch({ snapshotData: { last_id: '100-0' } })
  socket.deliver(product('100-0', 1))
  socket.deliver(product('101-0', 1))
  socket.deliver(product('101-0', 1))
  socket.deliver(product('99-5', 1))
  t.strictSame(liveIds(r), ['101-0'])
  r.watch.close()
})

t.test('close 1000 ends the watch: end, done resolves, no reconnect', async t => {
  const { server, r, socket } = await openWatch()
  socket.deliver(completed('101-0'))
  socket.serverClose(1000, 'job finished')
  const view = await r.watch.done
  t.match(view, { status: 'completed', progress: 100, last_id: '101-0' })
  t.strictSame(r.ends, [view])
  t.strictSame(r.connections, ['open', 'closed'])
  t.equal(r.watch.connection, 'closed')
  await settle()
  t.equal(server.sockets.length, 1, 'no other connection')
  t.equal(r.tokens(), 1)
  t.strictSame(r.errors, [])
})

t.test('a job already finished: its snapshot, then 1000', async t => {
  const { r, socket } = await openWatch({ snapshotData: { status: 'failed', progress: 35, products_completed: 1, error: 'out of memory' } })
  socket.serverClose(1000, 'job finished')
  t.match(await r.watch.done, { status: 'failed', progress: 35, error: 'out of memory' })
  t.equal(r.ends.length, 1)
})

t.test('every snapshot tells the state, even one that changes nothing; a repeated live event does not', async t => {
  const { server, r } = await openWatch({ snapshotData: { status: 'pending', progress: 0, total_products: null, current_step: null, last_id: null } })
  t.strictSame(r.states, [r.watch.state], 'the first snapshot, though it equals the initial view')
  const second = await reconnected(server, 2, 1012)
  second.deliver(snapshot({ status: 'pending', progress: 0, total_products: null, current_step: null, last_id: null, recovered: true }))
  t.equal(r.states.length, 2, 'and the snapshot after a reconnect')
  t.equal(r.states[1], r.states[0], 'the same view object: nothing changed')
  r.watch.close()
})
