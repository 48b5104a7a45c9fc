/**
 * simulate() against an in-memory publisher: what it publishes, in which
 * order, at which pace, and how it stops and fails. The real broker and
 * training service are in simulate-live.test.ts.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { EventType, type TrainingEvent } from '@training-live/events'
import type { Publisher } from '@training-live/events/publisher'
import { OptionError } from '../src/options.ts'
import { planBatch } from '../src/plan.ts'
import { STOPPED_ERROR, simulate, type JobResult } from '../src/simulate.ts'

interface FakePublisher extends Publisher {
  sent: TrainingEvent[]
  inFlight: number
  /** The most publishes waiting for their confirm at once. */
  maxInFlight: number
}

/** Confirms each publish after `confirmMs`, or rejects the n-th publish (1-based) when `failAt` is n. */
function fakePublisher (options: { confirmMs?: number, failAt?: number } = {}): FakePublisher {
  const sent: TrainingEvent[] = []
  const fake: FakePublisher = {
    sent,
    inFlight: 0,
    maxInFlight: 0,
    async publish (type, input) {
      const event = { ...input, type, event_id: randomUUID(), timestamp: new Date().toISOString() } as unknown as TrainingEvent
      sent.push(event)
      if (sent.length === options.failAt) throw new Error('broker said no')
      fake.maxInFlight = Math.max(fake.maxInFlight, ++fake.inFlight)
      try { await sleep(options.confirmMs ?? 0) } finally { fake.inFlight-- }
      return event as never
    },
    async publishRaw () {},
    async close () {}
  }
  return fake
}

const settings = { tenantId: 'tenant_fake', jobs: 4, products: 5, failRatio: 0.5, seed: 11, jobIdPrefix: 'sim_fake' }

t.test('publishes every job as planned, each in its own order, the jobs interleaved', async t => {
  const publisher = fakePublisher()
  const confirmed: TrainingEvent[] = []
  const finished: JobResult[] = []
  const summary = await simulate({ ...settings, rate: 1000, publisher, onEvent: e => confirmed.push(e), onJobFinished: j => finished.push(j) })
  const plans = planBatch(settings)

  for (const plan of plans) {
    const own = publisher.sent.filter(e => e.job_id === plan.jobId)
    const { total_duration: duration, ...terminal } = own.at(-1)?.data as { total_duration?: number }
    t.same([...own.slice(0, -1).map(e => ({ type: e.type, data: e.data })), { type: own.at(-1)?.type, data: terminal }], plan.events, `${plan.jobId} as planned`)
    if (plan.outcome === 'completed') t.ok(typeof duration === 'number' && duration >= 0, `measured duration ${String(duration)} s`)
    t.ok(own.every(e => e.tenant_id === 'tenant_fake'))
  }
  const jobOrder = publisher.sent.map(e => e.job_id)
  t.ok(jobOrder.some((id, i) => i > 0 && id !== jobOrder[i - 1] && jobOrder.slice(i).includes(jobOrder[i - 1] as string)), 'interleaved')

  t.equal(confirmed.length, publisher.sent.length)
  t.equal(summary.events, plans.reduce((n, p) => n + p.events.length, 0))
  t.match(summary, { tenantId: 'tenant_fake', seed: 11, completed: 2, failed: 2, stopped: 0, notStarted: 0 })
  t.same(summary.jobs.map(j => [j.jobId, j.outcome, j.planned, j.productsCompleted, j.events]),
    plans.map(p => [p.jobId, p.outcome, p.outcome, p.productsCompleted.length, p.events.length]))
  t.same(finished.map(j => j.jobId).sort(), plans.map(p => p.jobId).sort(), 'each job reported once it finished')
  t.ok(summary.jobs.every(j => j.durationMs >= 0 && j.totalProducts === 5))
})

t.test('paces the whole batch at the rate', async t => {
  const rate = 200
  const summary = await simulate({ ...settings, jobs: 5, products: 5, failRatio: 0, rate, publisher: fakePublisher() })
  t.equal(summary.events, 40)
  const floor = (40 - 1) * 1000 / rate
  t.ok(summary.durationMs >= floor - 5, `${summary.durationMs} ms, not before ${floor} ms`)
  // Timers only ever fire late, and more so on a busy machine: the upper bounds are loose.
  t.ok(summary.durationMs < floor + 1000, `${summary.durationMs} ms, about ${floor} ms`)
  t.ok(summary.eventsPerSecond <= rate * 40 / 39 * 1.05, `${summary.eventsPerSecond} events/s, not above the rate`)
})

t.test('a slow broker does not slow the pace: up to 1000 publishes wait for their confirm at once', async t => {
  const publisher = fakePublisher({ confirmMs: 200 })
  const summary = await simulate({ ...settings, jobs: 100, products: 10, failRatio: 0, rate: 1_000_000, publisher })
  t.equal(summary.events, 1300)
  t.equal(summary.completed, 100)
  // Counted, not timed: the publishes overlap instead of waiting for each other's confirm.
  t.ok(publisher.maxInFlight >= 100 && publisher.maxInFlight <= 1000, `${publisher.maxInFlight} publishes waited for their confirm at once`)
})

t.test('aborted: jobs under way are failed, jobs not started are left alone', async t => {
  const publisher = fakePublisher()
  const controller = new AbortController()
  let confirmed = 0
  const summary = await simulate({
    ...settings,
    jobs: 10,
    products: 10,
    failRatio: 0,
    rate: 100,
    publisher,
    signal: controller.signal,
    onEvent: () => { if (++confirmed === 20) controller.abort() }
  })
  const stopped = summary.jobs.filter(j => j.outcome === 'stopped')
  t.ok(stopped.length > 0, `${stopped.length} stopped`)
  t.equal(summary.stopped, stopped.length)
  t.equal(summary.completed, 0)
  for (const job of stopped) {
    const own = publisher.sent.filter(e => e.job_id === job.jobId)
    t.same(own.at(-1)?.data, { error: STOPPED_ERROR }, `${job.jobId} ends failed`)
    t.equal(job.events, own.length, 'every event confirmed')
    t.equal(own.filter(e => e.type === EventType.ProductCompleted).length, job.productsCompleted)
  }
  const untouched = summary.jobs.filter(j => j.outcome === 'not_started')
  t.equal(summary.notStarted, untouched.length)
  t.ok(untouched.every(j => j.events === 0 && j.durationMs === 0))
  t.ok(untouched.every(j => !publisher.sent.some(e => e.job_id === j.jobId)))
  t.equal(stopped.length + untouched.length, 10)
  t.equal(summary.events, publisher.sent.length, 'everything sent was confirmed')
})

t.test('aborted before it starts: nothing published, every job not started', async t => {
  const publisher = fakePublisher()
  const summary = await simulate({ ...settings, publisher, signal: AbortSignal.abort() })
  t.match(summary, { events: 0, notStarted: 4, stopped: 0, completed: 0, failed: 0, eventsPerSecond: 0 })
  t.equal(publisher.sent.length, 0)
})

t.test('a publish that fails fails the run, after the others settle; no job counts as finished without all its events', async t => {
  const finished: JobResult[] = []
  const publisher = fakePublisher({ failAt: 3 })
  await t.rejects(simulate({ ...settings, jobs: 1, products: 5, rate: 100, publisher, onJobFinished: j => finished.push(j) }), { message: 'broker said no' })
  t.equal(publisher.sent.length, 3, 'nothing published once the failure is known')
  t.same(finished, [])
})

t.test('an error in a callback fails the run too', async t => {
  await t.rejects(simulate({ ...settings, rate: 1000, publisher: fakePublisher(), onEvent: () => { throw new Error('callback broke') } }), { message: 'callback broke' })
})

t.test('bad settings are refused before anything is published or connected', async t => {
  const publisher = fakePublisher()
  await t.rejects(simulate({ ...settings, jobs: 0, publisher }), OptionError)
  await t.rejects(simulate({ rate: -1, url: 'amqp://127.0.0.1:1' }), { name: 'OptionError', message: /^rate / })
  t.equal(publisher.sent.length, 0)
})
