/**
 * The progress rules, as a pure reducer: (state, event) -> (state, message | nothing).
 * It performs no I/O, so the training service, tests and clients share it as is.
 */
import { EventType, JobStatus, LIVE_MESSAGE_TYPE, Stage, TERMINAL_STATUSES, type LiveEventType } from './constants.ts'
import type { JobSnapshot, LiveEventMessage, TrainingEvent } from './schemas.ts'

export interface JobState {
  tenant_id: string
  job_id: string
  status: JobStatus
  /** Integer percent; never decreases. */
  progress: number
  /** The largest total announced so far, or null before any. */
  total_products: number | null
  /** Distinct product names completed so far, sorted. */
  products: string[]
  current_step: string | null
  /** Ordering key (event time, then event id) of the event that set current_step. */
  step_key: string | null
  error: string | null
  started_at: string | null
  updated_at: string | null
  /** Ids of every event applied, sorted; a repeated id is a duplicate. */
  event_ids: string[]
}

/** A live message before the service gives it its position (`id`) in the job's history. */
export type LiveMessageBody = Omit<LiveEventMessage, 'id'>

export type DropReason = 'duplicate' | 'terminal'

export type ApplyResult =
  | { state: JobState, message: LiveMessageBody, dropped?: undefined }
  | { state: JobState, message: null, dropped: DropReason }

export function initialJobState (tenantId: string, jobId: string): JobState {
  return {
    tenant_id: tenantId,
    job_id: jobId,
    status: JobStatus.Pending,
    progress: Stage.Started,
    total_products: null,
    products: [],
    current_step: null,
    step_key: null,
    error: null,
    started_at: null,
    updated_at: null,
    event_ids: []
  }
}

export function isTerminal (status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status)
}

/** Index where `value` is or would be inserted in the sorted array. */
function sortedIndex (values: readonly string[], value: string): number {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((values[mid] as string) < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

function hasSorted (values: readonly string[], value: string): boolean {
  return values[sortedIndex(values, value)] === value
}

function withSorted (values: readonly string[], value: string): string[] {
  const i = sortedIndex(values, value)
  if (values[i] === value) return values as string[]
  // One native copy and one native move: spreading slices goes element by element, and a job's
  // products list is copied so for each new product.
  const next = values.slice()
  next.splice(i, 0, value)
  return next
}

/**
 * Orders events by their own time, then id, so that "the latest step" does
 * not depend on the order in which a queue happened to deliver them.
 */
function orderingKey (event: TrainingEvent): string {
  const ms = Date.parse(event.timestamp)
  return `${String(ms).padStart(16, '0')}|${event.event_id}`
}

/** The later of two event times (`a` may be unknown); the reducer and the client view share it. */
export function laterTimestamp (a: string | null, b: string): string {
  return a === null || Date.parse(b) > Date.parse(a) ? b : a
}

/** The earlier of two event times (`a` may be unknown). */
export function earlierTimestamp (a: string | null, b: string): string {
  return a === null || Date.parse(b) < Date.parse(a) ? b : a
}

/** Progress once `completed` distinct products of `total` are done. */
export function productsProgress (completed: number, total: number | null): number {
  if (total === null || total <= 0) return Stage.DataAnalysis
  const done = Math.min(completed, total)
  return Stage.DataAnalysis + Math.floor(done / total * (Stage.ProductsEnd - Stage.DataAnalysis))
}

function stepOf (event: TrainingEvent): string | null {
  switch (event.type) {
    case EventType.Progress: return event.data.step
    case EventType.ProductCompleted: return typeof event.data.current_step === 'string' ? event.data.current_step : null
    default: return null
  }
}

export function applyEvent (state: JobState, event: TrainingEvent): ApplyResult {
  if (hasSorted(state.event_ids, event.event_id)) return { state, message: null, dropped: 'duplicate' }
  if (isTerminal(state.status)) return { state, message: null, dropped: 'terminal' }

  const next: JobState = {
    ...state,
    event_ids: withSorted(state.event_ids, event.event_id),
    updated_at: laterTimestamp(state.updated_at, event.timestamp)
  }

  const step = stepOf(event)
  if (step !== null) {
    const key = orderingKey(event)
    if (next.step_key === null || key > next.step_key) {
      next.current_step = step
      next.step_key = key
    }
  }

  switch (event.type) {
    case EventType.Started:
      next.status = JobStatus.Running
      next.started_at = earlierTimestamp(next.started_at, event.timestamp)
      next.total_products = Math.max(next.total_products ?? 0, event.data.total_products)
      break
    case EventType.Progress:
      next.status = JobStatus.Running
      next.progress = Math.max(next.progress, Stage.DataAnalysis)
      break
    case EventType.ProductCompleted:
      next.status = JobStatus.Running
      next.total_products = Math.max(next.total_products ?? 0, event.data.total_products)
      next.products = withSorted(next.products, event.data.product_name)
      next.progress = Math.max(next.progress, productsProgress(next.products.length, next.total_products))
      break
    case EventType.Completed:
      next.status = JobStatus.Completed
      next.progress = Stage.Completed
      break
    case EventType.Failed:
      next.status = JobStatus.Failed
      next.error = event.data.error
      break
  }

  return { state: next, message: liveMessage(next, event) }
}

function liveMessage (state: JobState, event: TrainingEvent): LiveMessageBody {
  return {
    type: LIVE_MESSAGE_TYPE[event.type] as LiveEventType,
    job_id: state.job_id,
    tenant_id: state.tenant_id,
    timestamp: event.timestamp,
    progress: state.progress,
    data: {
      ...event.data,
      status: state.status,
      products_completed: state.products.length,
      total_products: state.total_products,
      current_step: state.current_step
    }
  }
}

/** Applies events in order, keeping the messages that were emitted. */
export function reduceEvents (state: JobState, events: Iterable<TrainingEvent>): { state: JobState, messages: LiveMessageBody[] } {
  const messages: LiveMessageBody[] = []
  let current = state
  for (const event of events) {
    const result = applyEvent(current, event)
    current = result.state
    if (result.message !== null) messages.push(result.message)
  }
  return { state: current, messages }
}

/**
 * A job's state without its two growing lists, the products counted instead: what a store keeps
 * where a snapshot reads it, whatever the job's size.
 */
export type JobSummary = Omit<JobState, 'products' | 'event_ids'> & { products_completed: number }

export function summaryOf (state: JobState): JobSummary {
  const { products, event_ids: _ids, ...rest } = state
  return { ...rest, products_completed: products.length }
}

/** The part of a job's state that clients see in the `connected` snapshot. */
export function snapshotOf (state: JobSummary, lastId: string | null): JobSnapshot {
  const snapshot: JobSnapshot = {
    status: state.status,
    progress: state.progress,
    products_completed: state.products_completed,
    total_products: state.total_products,
    current_step: state.current_step,
    last_id: lastId
  }
  if (state.error !== null) snapshot.error = state.error
  return snapshot
}
