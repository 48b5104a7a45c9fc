import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { applyEvent, initialJobState, isTerminal, productsProgress, reduceEvents, type JobState } from '../src/reducer.ts'
import type { TrainingEvent } from '../src/schemas.ts'

const TENANT = 'tenant_reducer_prop'
const JOB = 'training_reducer_prop'
const T0 = Date.parse('2025-10-08T12:00:00.000Z')
const NUM_RUNS = 300

const PRODUCTS = ['apples', 'bananas', 'cherries', 'dates', 'elderberries', 'figs', 'grapes', 'honeydew']
const STEPS = ['Data Analysis', 'Feature Engineering', 'Model Training', 'Evaluation']

interface Job {
  total: number
  /** Distinct products the job completes; at most `total` of them. */
  products: string[]
  /** Every non-terminal event, each with its own id. */
  events: TrainingEvent[]
  terminal: TrainingEvent
  /** The other terminal kind, with its own id, for orders that contain both. */
  otherTerminal: TrainingEvent
}

/** Milliseconds after T0; small enough that equal timestamps happen. */
const offset = fc.integer({ min: 0, max: 5000 })
const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })

interface Draft {
  type: TrainingEvent['type']
  ms: number
  data: Record<string, unknown>
}

const jobArb: fc.Arbitrary<Job> = fc.integer({ min: 1, max: 8 }).chain(total => fc.record({
  total: fc.constant(total),
  products: fc.subarray(PRODUCTS.slice(0, total)),
  startedCount: fc.integer({ min: 0, max: 2 }),
  startedExtras: fc.array(fc.tuple(offset, extra), { minLength: 2, maxLength: 2 }),
  progress: fc.array(fc.tuple(offset, fc.constantFrom(...STEPS), extra, fc.option(fc.double({ noNaN: true }), { nil: undefined })), { maxLength: 3 }),
  /** Per product: how many times it is reported (retries with fresh ids), and each report's fields. */
  reports: fc.array(fc.array(fc.tuple(offset, fc.option(fc.constantFrom(...STEPS), { nil: undefined }), extra), { minLength: 1, maxLength: 2 }), { minLength: 8, maxLength: 8 }),
  terminalKind: fc.constantFrom('training.completed' as const, 'training.failed' as const),
  terminal: fc.tuple(offset, extra),
  idSalt: fc.integer({ min: 0, max: 1_000_000 })
})).map(r => {
  const drafts: Draft[] = []
  for (const [ms, data] of r.startedExtras.slice(0, r.startedCount)) {
    drafts.push({ type: 'training.started', ms, data: { ...data, total_products: r.total } })
  }
  for (const [ms, step, data, workerProgress] of r.progress) {
    drafts.push({ type: 'training.progress', ms, data: { ...data, step, ...(workerProgress === undefined ? {} : { progress: workerProgress }) } })
  }
  r.products.forEach((name, i) => {
    for (const [ms, step, data] of r.reports[i] ?? []) {
      drafts.push({
        type: 'training.product.completed',
        ms,
        data: { ...data, product_name: name, total_products: r.total, ...(step === undefined ? {} : { current_step: step }) }
      })
    }
  })
  // Ids in an order unrelated to time, so that ties on the timestamp are broken by arbitrary ids.
  const toEvent = (d: Draft, i: number): TrainingEvent => ({
    event_id: `evt-${((i + 1) * 7919 + r.idSalt) % 1_000_003}-${i}`,
    type: d.type,
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: new Date(T0 + d.ms).toISOString(),
    data: d.data
  }) as TrainingEvent
  const events = drafts.map(toEvent)
  const [ms, data] = r.terminal
  const otherKind = r.terminalKind === 'training.completed' ? 'training.failed' : 'training.completed'
  const terminalData = (kind: string) => kind === 'training.failed' ? { ...data, error: 'out of memory' } : data
  return {
    total: r.total,
    products: r.products,
    events,
    terminal: toEvent({ type: r.terminalKind, ms, data: terminalData(r.terminalKind) }, drafts.length),
    otherTerminal: toEvent({ type: otherKind, ms: ms + 1, data: terminalData(otherKind) }, drafts.length + 1)
  }
})

/** Every element of `events` at least once, in any order, some of them repeated. */
function arrangement (events: readonly TrainingEvent[]): fc.Arbitrary<TrainingEvent[]> {
  if (events.length === 0) return fc.constant([])
  return fc.tuple(
    fc.shuffledSubarray([...events], { minLength: events.length, maxLength: events.length }),
    fc.array(fc.tuple(fc.nat({ max: events.length - 1 }), fc.nat()), { maxLength: events.length * 2 })
  ).map(([permutation, copies]) => {
    const out = [...permutation]
    for (const [which, where] of copies) out.splice(where % (out.length + 1), 0, events[which] as TrainingEvent)
    return out
  })
}

/** A job and any order of all its events, terminal ones included, with any repetitions. */
const anyOrder = jobArb.chain(job => fc.record({
  job: fc.constant(job),
  withOtherTerminal: fc.boolean()
}).chain(({ job, withOtherTerminal }) => fc.record({
  job: fc.constant(job),
  order: arrangement([...job.events, job.terminal, ...(withOtherTerminal ? [job.otherTerminal] : [])])
})))

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
