import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { applyEvent, initialJobState, isTerminal, productsProgress, reduceEvents, type JobState } from '../src/reducer.ts'
import { JOB, TENANT, anyOrder, arrangement, jobArb, type Job } from './helpers/arbitraries.ts'

const NUM_RUNS = 300

/** The job's state as an independent model of the rules in the contract computes it. */
function expectedBeforeTerminal (job: Job): Pick<JobState, 'progress' | 'products' | 'total_products' | 'current_step' | 'status'> {
  const seenTotal = job.events.some(e => e.type === 'training.started' || e.type === 'training.product.completed')
  const hasProgress = job.events.some(e => e.type === 'training.progress')
  let progress = 0
  if (job.products.length > 0) progress = 20 + Math.floor(job.products.length * 60 / job.total)
  else if (hasProgress) progress = 20
  let step: string | null = null
  let latest: [number, string] | null = null
  for (const e of job.events) {
    const s = e.type === 'training.progress'
      ? e.data.step
      : e.type === 'training.product.completed' && typeof e.data.current_step === 'string' ? e.data.current_step : null
    if (s === null) continue
    const key: [number, string] = [Date.parse(e.timestamp), e.event_id]
    if (latest === null || key[0] > latest[0] || (key[0] === latest[0] && key[1] > latest[1])) {
      latest = key
      step = s
    }
  }
  return {
    status: job.events.length === 0 ? 'pending' : 'running',
    progress,
    products: [...job.products].sort(),
    total_products: seenTotal ? job.total : null,
    current_step: step
  }
}

t.test('(a) progress never decreases, whatever the order and repetitions', async t => {
  fc.assert(fc.property(anyOrder, ({ order }) => {
    let state = initialJobState(TENANT, JOB)
    let lastMessageProgress = -1
    for (const event of order) {
      const before = state.progress
      const result = applyEvent(state, event)
      state = result.state
      assert.ok(state.progress >= before, `state progress went from ${before} to ${state.progress}`)
      assert.ok(Number.isInteger(state.progress) && state.progress >= 0 && state.progress <= 100)
      if (result.message !== null) {
        assert.ok(result.message.progress >= lastMessageProgress,
          `message progress went from ${lastMessageProgress} to ${result.message.progress}`)
        assert.equal(result.message.progress, state.progress, 'a message carries the state\'s progress')
        lastMessageProgress = result.message.progress
      }
    }
  }), { numRuns: NUM_RUNS })
  t.pass(`${NUM_RUNS} generated orders`)
})

t.test('(b) any order and repetition of the non-terminal events, then the terminal one, give the same final state', async t => {
  const arb = jobArb.chain(job => fc.record({
    job: fc.constant(job),
    first: arrangement(job.events),
    second: arrangement(job.events)
  }))
  fc.assert(fc.property(arb, ({ job, first, second }) => {
    const a = reduceEvents(initialJobState(TENANT, JOB), first).state
    const b = reduceEvents(initialJobState(TENANT, JOB), second).state
    const expected = expectedBeforeTerminal(job)
    assert.deepEqual({
      status: a.status, progress: a.progress, products: a.products, total_products: a.total_products, current_step: a.current_step
    }, expected, 'state before the terminal event matches the model')
    const finalA = applyEvent(a, job.terminal)
    const finalB = applyEvent(b, job.terminal)
    assert.deepEqual(finalA.state, finalB.state)
    assert.deepEqual(finalA.message, finalB.message, 'the terminal message is the same too')
    const end = finalA.state
    if (job.terminal.type === 'training.completed') {
      assert.equal(end.status, 'completed')
      assert.equal(end.progress, 100)
    } else {
      assert.equal(end.status, 'failed')
      assert.equal(end.progress, expected.progress, 'failure keeps the progress')
      assert.equal(end.error, 'out of memory')
    }
    assert.deepEqual(end.event_ids, [...job.events, job.terminal].map(e => e.event_id).sort())
  }), { numRuns: NUM_RUNS })
  t.pass(`${NUM_RUNS} generated pairs of orders`)
})

t.test('(c) once terminal, nothing more is emitted; each event is emitted at most once', async t => {
  fc.assert(fc.property(anyOrder, ({ order }) => {
    let state = initialJobState(TENANT, JOB)
    let ended = false
    const emitted = new Set<string>()
    for (const event of order) {
      const result = applyEvent(state, event)
      if (ended) {
        assert.equal(result.message, null, `${event.type} emitted after the job ended`)
        assert.ok(result.dropped === 'terminal' || result.dropped === 'duplicate')
        assert.equal(result.dropped, emitted.has(event.event_id) ? 'duplicate' : 'terminal')
        assert.equal(result.state, state, 'a dropped event leaves the very same state')
      } else if (emitted.has(event.event_id)) {
        assert.equal(result.message, null)
        assert.equal(result.dropped, 'duplicate')
        assert.equal(result.state, state)
      } else {
        assert.notEqual(result.message, null, 'a new event before the end is emitted')
        emitted.add(event.event_id)
      }
      state = result.state
      ended = isTerminal(state.status)
    }
    const firstTerminal = order.findIndex(e => e.type === 'training.completed' || e.type === 'training.failed')
    assert.ok(firstTerminal >= 0)
    const before = new Set(order.slice(0, firstTerminal + 1).map(e => e.event_id))
    assert.equal(emitted.size, before.size, 'exactly the distinct events up to the first terminal one were emitted')
  }), { numRuns: NUM_RUNS })
  t.pass(`${NUM_RUNS} generated orders`)
})

t.test('the generator covers the interesting cases', async t => {
  // Guards the properties above against a generator that silently stopped producing what they rely on.
  const samples = fc.sample(anyOrder, { numRuns: 500, seed: 42 })
  t.ok(samples.some(s => s.job.products.length === s.job.total), 'jobs that complete every product')
  t.ok(samples.some(s => s.job.products.length === 0), 'jobs with no product')
  t.ok(samples.some(s => s.job.events.filter(e => e.type === 'training.started').length === 2), 'jobs announced twice')
  t.ok(samples.some(s => new Set(s.order.map(e => e.event_id)).size < s.order.length), 'orders with repetitions')
  t.ok(samples.some(s => s.order[0]?.type === 'training.completed' || s.order[0]?.type === 'training.failed'), 'orders that start with a terminal event')
  t.ok(samples.some(s => {
    const names = s.job.events.flatMap(e => e.type === 'training.product.completed' ? [e.data.product_name] : [])
    return new Set(names).size < names.length
  }), 'products reported twice under different ids')
  t.ok(samples.some(s => productsProgress(s.job.products.length, s.job.total) === 80 && s.job.total > 1), 'several products up to 80')
})
