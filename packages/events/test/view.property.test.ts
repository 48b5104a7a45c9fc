/**
 * The client's view, computed by applyMessage from what the server sent,
 * against the server's own state: for any order of a job's events, reducing
 * them server-side and applying the resulting messages client-side (from the
 * first snapshot, or across a reconnect that resumes or cannot) ends at the
 * state the server holds.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { applyEvent, initialJobState, snapshotOf, summaryOf, type JobState } from '../src/reducer.ts'
import type { ConnectedMessage, LiveEventMessage, TrainingEvent } from '../src/schemas.ts'
import { applyMessage, viewOfSnapshot, type JobView } from '../src/view.ts'
import { JOB, TENANT, anyOrder, arrangement, jobArb } from './helpers/arbitraries.ts'

const NUM_RUNS = 300

/** What the server did with an order of events: its state after each message it emitted. */
interface ServerRun {
  initial: JobState
  messages: LiveEventMessage[]
  /** states[k]: the state once the first k messages were emitted. */
  states: JobState[]
}

/** Stream ids that increase strictly, several sharing a millisecond (so the sequence part counts). */
function streamId (i: number): string {
  return `${1_759_926_896_000 + Math.floor(i / 3)}-${i % 3}`
}

function serve (order: TrainingEvent[]): ServerRun {
  let state = initialJobState(TENANT, JOB)
  const run: ServerRun = { initial: state, messages: [], states: [state] }
  for (const event of order) {
    const result = applyEvent(state, event)
    state = result.state
    if (result.message === null) continue
    run.messages.push({ ...result.message, id: streamId(run.messages.length) })
    run.states.push(state)
  }
  return run
}

/** The snapshot a client connecting after the first k messages gets. */
function snapshotAt (run: ServerRun, k: number, recovered?: boolean): ConnectedMessage {
  const state = run.states[k] as JobState
  const data = snapshotOf(summaryOf(state), k === 0 ? null : (run.messages[k - 1] as LiveEventMessage).id)
  if (recovered !== undefined) data.recovered = recovered
  return { type: 'connected', tenant_id: TENANT, job_id: JOB, timestamp: new Date(0).toISOString(), data }
}

/** The fields both sides compute. */
const FIELDS = ['status', 'progress', 'products_completed', 'total_products', 'current_step', 'error', 'last_id'] as const
type Fields = Pick<JobView, typeof FIELDS[number]>

function fieldsOf (source: Fields): Fields {
  return Object.fromEntries(FIELDS.map(k => [k, source[k]])) as unknown as Fields
}

/** Those fields as the server holds them once it applied every event. */
function serverFields (run: ServerRun): Fields {
  return fieldsOf({ ...summaryOf(run.states.at(-1) as JobState), last_id: run.messages.at(-1)?.id ?? null })
}

/** Any order of a job's events: with its terminal event (and maybe the other one), or still running. */
const orders = fc.oneof(
  anyOrder.map(({ order }) => order),
  jobArb.chain(job => arrangement(job.events))
)

t.test('from the first snapshot, every message applied: the server\'s state, event times included', async t => {
  fc.assert(fc.property(orders, order => {
    const run = serve(order)
    let view = viewOfSnapshot(snapshotAt(run, 0))
    for (const message of run.messages) view = applyMessage(view, message)
    assert.deepEqual(fieldsOf(view), serverFields(run))
    const server = summaryOf(run.states.at(-1) as JobState)
    assert.equal(view.started_at ?? null, server.started_at, 'started_at')
    assert.equal(view.updated_at ?? null, server.updated_at, 'updated_at')
  }), { numRuns: NUM_RUNS })
  t.pass(`${NUM_RUNS} generated orders`)
})

t.test('across a reconnect, resumed or not recovered: the server\'s state, and the view never steps back', async t => {
  const arb = orders.map(serve).chain(run => {
    const n = run.messages.length
    return fc.record({
      run: fc.constant(run),
      // First snapshot after `first` messages, the socket lost after `lost`, the second snapshot after `second`.
      cuts: fc.tuple(fc.nat({ max: n }), fc.nat({ max: n }), fc.nat({ max: n })).map(c => c.sort((a, b) => a - b)),
      recovered: fc.boolean()
    })
  })
  fc.assert(fc.property(arb, ({ run, cuts: [first, lost, second], recovered }) => {
    const received = [
      snapshotAt(run, first),
      ...run.messages.slice(first, lost),
      snapshotAt(run, second, recovered),
      // Resumed: the history from where the client stood; not recovered: none of it.
      ...(recovered ? run.messages.slice(lost, second) : []),
      ...run.messages.slice(second)
    ]
    let view = viewOfSnapshot(received[0] as ConnectedMessage)
    for (const message of received.slice(1)) {
      const next = applyMessage(view, message)
      assert.ok(next.progress >= view.progress, `progress went from ${view.progress} to ${next.progress}`)
      assert.ok(next.products_completed >= view.products_completed, 'products_completed went down')
      view = next
    }
    assert.deepEqual(fieldsOf(view), serverFields(run))
    if (first === 0 && recovered) {
      // Every live message was seen: the event times agree too.
      const server = summaryOf(run.states.at(-1) as JobState)
      assert.equal(view.started_at ?? null, server.started_at)
      assert.equal(view.updated_at ?? null, server.updated_at)
    }
  }), { numRuns: NUM_RUNS })
  t.pass(`${NUM_RUNS} generated reconnects`)
})
