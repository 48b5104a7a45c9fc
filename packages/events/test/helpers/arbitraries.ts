/**
 * Generators of jobs and event orders for the property tests: the reducer's
 * own, and the client view's, which replays what the reducer emitted.
 */
import fc from 'fast-check'
import type { TrainingEvent } from '../../src/schemas.ts'

export const TENANT = 'tenant_reducer_prop'
export const JOB = 'training_reducer_prop'
const T0 = Date.parse('2025-10-08T12:00:00.000Z')

const PRODUCTS = ['apples', 'bananas', 'cherries', 'dates', 'elderberries', 'figs', 'grapes', 'honeydew']
const STEPS = ['Data Analysis', 'Feature Engineering', 'Model Training', 'Evaluation']

export interface Job {
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

export const jobArb: fc.Arbitrary<Job> = fc.integer({ min: 1, max: 8 }).chain(total => fc.record({
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
export function arrangement (events: readonly TrainingEvent[]): fc.Arbitrary<TrainingEvent[]> {
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
export const anyOrder = jobArb.chain(job => fc.record({
  job: fc.constant(job),
  withOtherTerminal: fc.boolean()
}).chain(({ job, withOtherTerminal }) => fc.record({
  job: fc.constant(job),
  order: arrangement([...job.events, job.terminal, ...(withOtherTerminal ? [job.otherTerminal] : [])])
})))
