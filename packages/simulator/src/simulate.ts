/**
 * Runs one batch of simulated jobs through the confirm publisher: the plans
 * from the seed, published in the interleaved order at the chosen rate.
 *
 * A publish is not awaited before the next one is sent (the publisher keeps
 * publish order on its one channel), so a slow confirm does not slow the pace;
 * at most MAX_IN_FLIGHT wait for their confirm at once, which bounds memory
 * while the broker is away. A job counts as finished once every one of its
 * events is confirmed.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { EventType, type TrainingEvent } from '@training-live/events'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import { checkSettings, withDefaults, type SimulationSettings } from './options.ts'
import { planBatch, type JobPlan, type PlannedEvent, type PlannedOutcome } from './plan.ts'
import { seededRandom } from './random.ts'
import { dueAtMs, interleave } from './schedule.ts'

export type JobOutcome = PlannedOutcome | 'stopped' | 'not_started'

export interface JobResult {
  jobId: string
  tenantId: string
  planned: PlannedOutcome
  /** `stopped`: the run was aborted while the job ran, and the job was failed with STOPPED_ERROR. */
  outcome: JobOutcome
  totalProducts: number
  productsCompleted: number
  /** Events of the job the broker confirmed. */
  events: number
  /** From the job's first publish to its last confirm; 0 for a job never started. */
  durationMs: number
}

export interface SimulationSummary {
  tenantId: string
  seed: number
  jobs: JobResult[]
  events: number
  completed: number
  failed: number
  stopped: number
  notStarted: number
  durationMs: number
  eventsPerSecond: number
}

export interface SimulateOptions extends Partial<SimulationSettings> {
  /** AMQP URL, when the simulation opens its own publisher. */
  url?: string
  exchange?: string
  publishTimeoutMs?: number
  /** A publisher to use instead of opening one; it is left open. */
  publisher?: Publisher
  /** Aborting stops the pace: jobs under way are failed with STOPPED_ERROR, jobs not started stay untouched. */
  signal?: AbortSignal
  /** Each event, as sent, once the broker confirmed it. */
  onEvent?: (event: TrainingEvent) => void
  onJobFinished?: (job: JobResult) => void
}

export const STOPPED_ERROR = 'simulation stopped before the job finished'
const MAX_IN_FLIGHT = 1000
// The publish order draws from its own stream, so the plans of a seed stay the same whatever the order.
const ORDER_STREAM = 0x9E3779B9

interface JobRun {
  plan: JobPlan
  /** Index of the next planned event to publish. */
  next: number
  published: number
  confirmed: number
  startedAt: number
  finishedAt: number
  /** Set once the job's terminal event is published. */
  ending: JobOutcome | undefined
  outcome: JobOutcome
}

export async function simulate (options: SimulateOptions = {}): Promise<SimulationSummary> {
  const settings = withDefaults(options)
  checkSettings(settings)
  if (options.publisher !== undefined) return await run(options.publisher, settings, options)
  const publisher = await createPublisher({ url: options.url, exchange: options.exchange, publishTimeoutMs: options.publishTimeoutMs })
  try {
    return await run(publisher, settings, options)
  } finally {
    await publisher.close()
  }
}

async function run (publisher: Publisher, settings: SimulationSettings, options: SimulateOptions): Promise<SimulationSummary> {
  const { signal, onEvent, onJobFinished } = options
  const jobs: JobRun[] = planBatch(settings).map(plan => ({
    plan, next: 0, published: 0, confirmed: 0, startedAt: 0, finishedAt: 0, ending: undefined, outcome: 'not_started'
  }))
  const order = interleave(jobs.map(j => j.plan.events.length), seededRandom((settings.seed ^ ORDER_STREAM) >>> 0))
  const inFlight = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let confirmedEvents = 0
  const stopped = (): boolean => signal?.aborted === true || failure !== undefined

  const result = (job: JobRun): JobResult => ({
    jobId: job.plan.jobId,
    tenantId: settings.tenantId,
    planned: job.plan.outcome,
    outcome: job.outcome,
    totalProducts: job.plan.totalProducts,
    productsCompleted: job.plan.events.slice(0, job.next).filter(e => e.type === EventType.ProductCompleted).length,
    events: job.confirmed,
    durationMs: Math.round(job.finishedAt - job.startedAt)
  })

  function send (job: JobRun, event: PlannedEvent, ending?: JobOutcome): void {
    const now = performance.now()
    if (job.published === 0) job.startedAt = now
    job.published++
    job.ending = ending
    const data = event.type === EventType.Completed
      ? { ...event.data, total_duration: Math.round(now - job.startedAt) / 1000 }
      : event.data
    const tracked = publisher.publish(event.type, { tenant_id: settings.tenantId, job_id: job.plan.jobId, data })
      .then(sent => {
        confirmedEvents++
        job.confirmed++
        onEvent?.(sent)
        if (job.ending !== undefined && job.confirmed === job.published) {
          job.finishedAt = performance.now()
          job.outcome = job.ending
          onJobFinished?.(result(job))
        }
      })
      .catch((error: unknown) => { failure ??= { error } })
      .finally(() => inFlight.delete(tracked))
    inFlight.add(tracked)
  }

  const start = performance.now()
  for (let position = 0; position < order.length && !stopped(); position++) {
    const wait = start + dueAtMs(position, settings.rate) - performance.now()
    if (wait >= 1) await sleep(wait, undefined, { signal }).catch(() => {})
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight)
    if (stopped()) break
    const job = jobs[order[position] as number] as JobRun
    const event = job.plan.events[job.next++] as PlannedEvent
    const terminal = job.next === job.plan.events.length
    send(job, event, terminal ? job.plan.outcome : undefined)
  }
  if (failure === undefined && signal?.aborted === true) {
    // Watchers of a job left half way would wait forever; a terminal event tells them it is over.
    for (const job of jobs) {
      if (job.published > 0 && job.ending === undefined) send(job, { type: EventType.Failed, data: { error: STOPPED_ERROR } }, 'stopped')
    }
  }
  while (inFlight.size > 0) await Promise.all(inFlight)
  if (failure !== undefined) throw failure.error

  const durationMs = performance.now() - start
  const count = (outcome: JobOutcome): number => jobs.filter(j => j.outcome === outcome).length
  return {
    tenantId: settings.tenantId,
    seed: settings.seed,
    jobs: jobs.map(result),
    events: confirmedEvents,
    completed: count('completed'),
    failed: count('failed'),
    stopped: count('stopped'),
    notStarted: count('not_started'),
    durationMs: Math.round(durationMs),
    // Any confirmed event took an await, so its duration is above 0.
    eventsPerSecond: confirmedEvents === 0 ? 0 : Math.round(confirmedEvents / durationMs * 10_000) / 10
  }
}
