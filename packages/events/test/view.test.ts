import t from 'tap'
import { initialJobState, reduceEvents, snapshotOf, summaryOf } from '../src/reducer.ts'
import type { ConnectedMessage, LiveEventMessage, ServerMessage, TrainingEvent } from '../src/schemas.ts'
import { applyMessage, initialJobView, viewOfSnapshot, type JobView } from '../src/view.ts'
import * as entry from '../src/index.ts'

const TENANT = 'tenant_view_unit'
const JOB = 'training_view_unit'

function connected (data: Partial<ConnectedMessage['data']> = {}, ids: { tenant_id?: string, job_id?: string } = {}): ConnectedMessage {
  return {
    type: 'connected',
    tenant_id: ids.tenant_id ?? TENANT,
    job_id: ids.job_id ?? JOB,
    timestamp: '2025-10-08T12:35:00.000Z',
    data: { status: 'running', progress: 40, products_completed: 1, total_products: 3, current_step: 'Trained a', last_id: '100-0', ...data }
  }
}

function live (id: string, type: LiveEventMessage['type'], progress: number, data: Record<string, unknown> = {}, timestamp = '2025-10-08T12:34:00.000Z'): LiveEventMessage {
  return {
    id,
    type,
    tenant_id: TENANT,
    job_id: JOB,
    timestamp,
    progress,
    data: { status: 'running', products_completed: 1, total_products: 3, current_step: 'Trained a', ...data }
  }
}

t.test('initialJobView knows nothing yet', async t => {
  t.strictSame(initialJobView(TENANT, JOB), {
    tenant_id: TENANT,
    job_id: JOB,
    status: 'pending',
    progress: 0,
    products_completed: 0,
    total_products: null,
    current_step: null,
    error: null,
    last_id: null
  })
})

t.test('viewOfSnapshot takes what the snapshot says, error included', async t => {
  t.strictSame(viewOfSnapshot(connected()), {
    tenant_id: TENANT,
    job_id: JOB,
    status: 'running',
    progress: 40,
    products_completed: 1,
    total_products: 3,
    current_step: 'Trained a',
    error: null,
    last_id: '100-0'
  })
  const failed = viewOfSnapshot(connected({ status: 'failed', error: 'out of memory', recovered: false }))
  t.equal(failed.error, 'out of memory')
  t.equal(failed.status, 'failed')
  t.notOk('recovered' in failed, 'recovered is about the connection, not the job')
})

t.test('a snapshot of the server state equals that state, seen through the view', async t => {
  const events: TrainingEvent[] = [
    { event_id: 'a', type: 'training.started', tenant_id: TENANT, job_id: JOB, timestamp: '2025-10-08T12:00:00.000Z', data: { total_products: 2 } },
    { event_id: 'b', type: 'training.failed', tenant_id: TENANT, job_id: JOB, timestamp: '2025-10-08T12:00:01.000Z', data: { error: 'disk full' } }
  ]
  const summary = summaryOf(reduceEvents(initialJobState(TENANT, JOB), events).state)
  const view = viewOfSnapshot({ type: 'connected', tenant_id: TENANT, job_id: JOB, timestamp: summary.updated_at as string, data: snapshotOf(summary, '7-0') })
  t.match(view, { status: 'failed', progress: 0, products_completed: 0, total_products: 2, current_step: null, error: 'disk full', last_id: '7-0' })
})

t.test('a snapshot replaces the view and keeps the event times seen of the same job', async t => {
  let view = initialJobView(TENANT, JOB)
  view = applyMessage(view, live('1-0', 'started', 0, { status: 'running', products_completed: 0 }, '2025-10-08T12:00:00.000Z'))
  view = applyMessage(view, live('2-0', 'progress', 20, { products_completed: 0 }, '2025-10-08T12:00:05.000Z'))
  const after = applyMessage(view, connected({ progress: 60, products_completed: 2, last_id: '9-0', recovered: false }))
  t.match(after, { progress: 60, products_completed: 2, last_id: '9-0', started_at: '2025-10-08T12:00:00.000Z', updated_at: '2025-10-08T12:00:05.000Z' })
  const other = applyMessage(view, connected({}, { job_id: 'another_job' }))
  t.equal(other.job_id, 'another_job')
  t.equal(other.started_at, undefined, 'times of another job are not carried over')
  t.equal(other.updated_at, undefined)
  const none = applyMessage(initialJobView(TENANT, JOB), connected())
  t.notOk('started_at' in none || 'updated_at' in none, 'no times before any live event')
  t.equal(applyMessage(after, connected({ progress: 60, products_completed: 2, last_id: '9-0', recovered: true })), after,
    'the same snapshot again (a reconnect, the job unchanged): the very same view')
  t.not(applyMessage(none, connected({ error: 'x' })), none, 'a field that differs is a change')
})

t.test('a live event sets what the server computed for it', async t => {
  const view = viewOfSnapshot(connected())
  const next = applyMessage(view, live('101-0', 'product_completed', 60, { products_completed: 2, current_step: 'Trained b', product_name: 'b' }))
  t.match(next, { status: 'running', progress: 60, products_completed: 2, total_products: 3, current_step: 'Trained b', error: null, last_id: '101-0' })
  t.equal(next.updated_at, '2025-10-08T12:34:00.000Z')
  t.equal(next.started_at, undefined, 'only a started event sets started_at')
  t.equal(view.progress, 40, 'the view given is left as it was')
  const done = applyMessage(next, live('102-0', 'completed', 100, { status: 'completed', products_completed: 3, error: 'a worker field' }))
  t.match(done, { status: 'completed', progress: 100, error: null }, 'an error field outside a failure is only data')
})

t.test('a failure sets the error; a failure message without one keeps the view\'s', async t => {
  const view = viewOfSnapshot(connected())
  t.equal(applyMessage(view, live('101-0', 'failed', 40, { status: 'failed', error: 'out of memory' })).error, 'out of memory')
  const odd = applyMessage(view, live('101-0', 'failed', 40, { status: 'failed' }))
  t.equal(odd.error, null)
  t.equal(odd.status, 'failed')
})

t.test('started_at is the earliest started event, updated_at the latest event', async t => {
  let view = viewOfSnapshot(connected({ last_id: null }))
  view = applyMessage(view, live('1-0', 'started', 0, {}, '2025-10-08T12:00:10.000Z'))
  view = applyMessage(view, live('2-0', 'started', 0, {}, '2025-10-08T12:00:05.000Z'))
  view = applyMessage(view, live('3-0', 'progress', 20, {}, '2025-10-08T12:00:01.000Z'))
  t.equal(view.started_at, '2025-10-08T12:00:05.000Z')
  t.equal(view.updated_at, '2025-10-08T12:00:10.000Z')
})

t.test('a live event the view already includes does not move it back, nor does a repeat', async t => {
  const view = viewOfSnapshot(connected({ last_id: '100-5' }))
  const replayed = applyMessage(view, live('100-2', 'progress', 20, { products_completed: 0, current_step: 'Data Analysis' }, '2025-10-08T12:00:00.000Z'))
  t.match(replayed, { progress: 40, products_completed: 1, current_step: 'Trained a', last_id: '100-5' }, 'the state is the snapshot\'s')
  t.equal(replayed.updated_at, '2025-10-08T12:00:00.000Z', 'its time is still a time of the job')
  t.equal(applyMessage(replayed, live('100-2', 'progress', 20, {}, '2025-10-08T12:00:00.000Z')), replayed, 'nothing new: the very same view')
  const at = applyMessage(replayed, live('100-5', 'started', 0, {}, '2025-10-08T11:59:00.000Z'))
  t.equal(at.progress, 40, 'the id the view stands at is included')
  t.equal(at.started_at, '2025-10-08T11:59:00.000Z')
  t.equal(at.updated_at, '2025-10-08T12:00:00.000Z')
})

t.test('pong and error messages change nothing', async t => {
  const view: JobView = viewOfSnapshot(connected())
  const others: ServerMessage[] = [{ type: 'pong' }, { type: 'error', code: 'TRAINING_BAD_MESSAGE', message: 'bad' }]
  for (const m of others) t.equal(applyMessage(view, m), view, m.type)
})

t.test('the package entry point exports the view functions', async t => {
  t.equal(entry.applyMessage, applyMessage)
  t.equal(entry.viewOfSnapshot, viewOfSnapshot)
  t.equal(entry.initialJobView, initialJobView)
})
