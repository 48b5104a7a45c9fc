/**
 * What each simulated job publishes, decided up front from the seed: the
 * runner only adds ids, timestamps and the measured duration. Keeping the plan
 * pure is what lets tests check every plan against the contract, and predict
 * which jobs fail.
 */
import { EventType, type TrainingEventMap } from '@training-live/events'
import { randomInt, seededRandom, shuffle, type Random } from './random.ts'

/** One event a job will publish: its type and its `data`, without the envelope. */
export type PlannedEvent = { [K in EventType]: { type: K, data: TrainingEventMap[K]['data'] } }[EventType]

export type PlannedOutcome = 'completed' | 'failed'

export interface JobPlan {
  jobId: string
  outcome: PlannedOutcome
  totalProducts: number
  /** The products the job completes, in the order it reports them. */
  productsCompleted: string[]
  /** In publish order: started, data analysis, products, then completed or failed. */
  events: PlannedEvent[]
}

export interface BatchPlanInput {
  jobs: number
  products: number
  /** Share of the jobs that fail, 0..1; rounded to a whole number of jobs. */
  failRatio: number
  seed: number
  jobIdPrefix: string
}

export const DATA_ANALYSIS_STEP = 'Data Analysis'

export function jobIdOf (prefix: string, index: number): string {
  return `${prefix}_${index + 1}`
}

export function productNames (count: number): string[] {
  return Array.from({ length: count }, (_, i) => `product_${i + 1}`)
}

export function planJob (jobId: string, products: number, fail: boolean, random: Random): JobPlan {
  // Products train in parallel, so they finish in no particular order.
  const names = shuffle(productNames(products), random)
  // A failing job fails while one of its products is still training, so it never completes them all.
  const completedCount = fail ? randomInt(random, 0, Math.max(products - 1, 0)) : products
  const completed = names.slice(0, completedCount)
  const events: PlannedEvent[] = [
    { type: EventType.Started, data: { total_products: products } },
    { type: EventType.Progress, data: { step: DATA_ANALYSIS_STEP, progress: 100 } },
    ...completed.map((name, i): PlannedEvent => ({
      type: EventType.ProductCompleted,
      data: {
        product_name: name,
        total_products: products,
        products_completed: i + 1,
        current_step: `Trained ${name}`,
        step_details: { accuracy: Math.round((0.8 + random() * 0.19) * 1000) / 1000 }
      }
    }))
  ]
  if (fail) {
    const failing = names[completedCount]
    const error = failing === undefined ? 'simulated failure during data analysis' : `simulated failure while training ${failing}`
    events.push({ type: EventType.Failed, data: { error } })
  } else {
    events.push({ type: EventType.Completed, data: { successful_trainings: products, failed_trainings: 0 } })
  }
  return { jobId, outcome: fail ? 'failed' : 'completed', totalProducts: products, productsCompleted: completed, events }
}

/** The plans of one batch; the same input always gives the same plans. */
export function planBatch (input: BatchPlanInput): JobPlan[] {
  const random = seededRandom(input.seed)
  const indices = Array.from({ length: input.jobs }, (_, i) => i)
  const failing = new Set(shuffle(indices, random).slice(0, Math.round(input.failRatio * input.jobs)))
  return Array.from({ length: input.jobs }, (_, i) => planJob(jobIdOf(input.jobIdPrefix, i), input.products, failing.has(i), random))
}
