/** Resuming: which last_id each reconnect sends, and what the view does with the snapshot that answers it. */
import t from 'tap'
import { product, snapshot } from './helpers/messages.ts'
import { liveIds, openWatch, reconnected } from './helpers/watch.ts'

t.test('recovered: false: the snapshot is the truth, and the next resume starts from it', async t => {
  const { server, r, socket } = await openWatch({ snapshotData: { last_id: '100-0' } })
  socket.deliver(product('101-0', 1))
  const second = await reconnected(server, 2, 1012)
  t.equal(second.lastId, '101-0')
  const gap = snapshot({ last_id: '150-0', progress: 65, products_completed: 3, current_step: 'Trained p3', recovered: false })
  second.deliver(gap)
  t.strictSame(r.messages.at(-1), gap, 'the snapshot is handed on, so a UI can tell the history was lost')
  t.match(r.watch.state, { progress: 65, products_completed: 3, current_step: 'Trained p3', last_id: '150-0' })
  const third = await reconnected(server, 3, 1012)
  t.equal(third.lastId, '150-0', 'not the id it had before the gap: the history no longer reaches it')
  third.deliver(snapshot({ last_id: '150-0', progress: 65, products_completed: 3, recovered: true }))
  third.deliver(product('151-0', 4))
  t.equal(r.watch.state.progress, 80)
  r.watch.close()
})

t.test('recovered: true: the missed events are handed on in order, and the view never steps back', async t => {
  const { server, r, socket } = await openWatch({ snapshotData: { last_id: '100-0' } })
  socket.deliver(product('101-0', 1))
  const second = await reconnected(server, 2, 1011)
  second.deliver(snapshot({ last_id: '103-0', progress: 65, products_completed: 3, current_step: 'Trained p3', recovered: true }))
  second.deliver(product('102-0', 2))
  second.deliver(product('103-0', 3))
  t.strictSame(r.states.map(s => s.progress), [20, 35, 65], 'the view jumped to the snapshot; the history did not move it back')
  second.deliver(product('104-0', 4))
  t.strictSame(liveIds(r), ['101-0', '102-0', '103-0', '104-0'], 'every event once, in order')
  t.equal(r.watch.state.progress, 80)
  t.equal((await reconnected(server, 3, 1012)).lastId, '104-0')
  r.watch.close()
})

t.test('a drop in the middle of the history resumes after the last event handled, not the snapshot\'s', async t => {
  const { server, r } = await openWatch({ snapshotData: { last_id: '100-0' } })
  const second = await reconnected(server, 2, 1006)
  t.equal(second.lastId, '100-0', 'from where the first snapshot stood')
  const resumed = snapshot({ last_id: '103-0', progress: 65, products_completed: 3, recovered: true })
  second.deliver(resumed)
  second.deliver(product('101-0', 1))
  const third = await reconnected(server, 3, 1006)
  t.equal(third.lastId, '101-0')
  third.deliver(resumed)
  third.deliver(product('102-0', 2))
  third.deliver(product('103-0', 3))
  t.strictSame(liveIds(r), ['101-0', '102-0', '103-0'])
  r.watch.close()
})

t.test('a job with no history yet resumes from 0-0', async t => {
  const { server, r } = await openWatch({ snapshotData: { status: 'pending', progress: 0, total_products: null, current_step: null, last_id: null } })
  t.equal((await reconnected(server, 2, 1012)).lastId, '0-0')
  r.watch.close()
})
