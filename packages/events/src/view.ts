/**
 * What a client shows of one job: the `connected` snapshot, advanced by every
 * live message. Pure like the reducer, and beside it, so that every client
 * computes the same view and the property tests can hold it against the
 * server's own state.
 */
import { JobStatus, MessageType, Stage } from './constants.ts'
import { earlierTimestamp, laterTimestamp } from './reducer.ts'
import type { ConnectedMessage, LiveEventMessage, ServerMessage } from './schemas.ts'
import { compareStreamIds } from './stream-id.ts'

export interface JobView {
  tenant_id: string
  job_id: string
  status: JobStatus
  /** Integer percent, as the server computed it. */
  progress: number
  /** Distinct products completed. */
  products_completed: number
  total_products: number | null
  current_step: string | null
  /** Why the job failed, once it has. */
  error: string | null
  /** Id of the newest event this view includes (the snapshot's, or a later live message's); null before any. */
  last_id: string | null
  /** Time of the earliest `started` event seen live; the snapshot does not carry it. */
  started_at?: string
  /** Time of the latest event seen live; the snapshot does not carry it. */
  updated_at?: string
}

/** The view before any snapshot: nothing known yet. */
export function initialJobView (tenantId: string, jobId: string): JobView {
  return {
    tenant_id: tenantId,
    job_id: jobId,
    status: JobStatus.Pending,
    progress: Stage.Started,
    products_completed: 0,
    total_products: null,
    current_step: null,
    error: null,
    last_id: null
  }
}

/** The view a snapshot describes, on its own. */
export function viewOfSnapshot (message: ConnectedMessage): JobView {
  const d = message.data
  return {
    tenant_id: message.tenant_id,
    job_id: message.job_id,
    status: d.status,
    progress: d.progress,
    products_completed: d.products_completed,
    total_products: d.total_products,
    current_step: d.current_step,
    error: d.error ?? null,
    last_id: d.last_id
  }
}

function sameView (a: JobView, b: JobView): boolean {
  const keys = Object.keys(a) as Array<keyof JobView>
  return keys.length === Object.keys(b).length && keys.every(k => a[k] === b[k])
}

function isLiveEvent (message: ServerMessage): message is LiveEventMessage {
  return 'id' in message
}

/** `view` with the event times of `message` folded in; the very same object when they change nothing. */
function withTimes (view: JobView, message: LiveEventMessage): JobView {
  const updated = laterTimestamp(view.updated_at ?? null, message.timestamp)
  const started = message.type === MessageType.Started
    ? earlierTimestamp(view.started_at ?? null, message.timestamp)
    : view.started_at
  if (updated === view.updated_at && started === view.started_at) return view
  const next: JobView = { ...view, updated_at: updated }
  if (started !== undefined) next.started_at = started
  return next
}

/**
 * The view after one server message. A snapshot replaces the view: it is the
 * job's state as the server has it now (after a resume, the history that
 * follows is already in it, and with `recovered: false` it stands for events
 * that will not come). A live event sets what the server computed for it,
 * unless the view already includes it (its id is not after `last_id`, as for
 * the history replayed after a resumed snapshot), so the view never steps
 * back. Other messages change nothing. Returns `view` itself when nothing
 * changed, so that a client can tell a change by identity.
 */
export function applyMessage (view: JobView, message: ServerMessage): JobView {
  if (message.type === MessageType.Connected) {
    const next = viewOfSnapshot(message)
    // The times come from live events only: keep those already seen of this job.
    if (next.tenant_id !== view.tenant_id || next.job_id !== view.job_id) return next
    if (view.started_at !== undefined) next.started_at = view.started_at
    if (view.updated_at !== undefined) next.updated_at = view.updated_at
    // A reconnect to a job that did not move is no change.
    return sameView(next, view) ? view : next
  }
  if (!isLiveEvent(message)) return view
  const timed = withTimes(view, message)
  if (view.last_id !== null && compareStreamIds(message.id, view.last_id) <= 0) return timed
  const d = message.data
  // The event's own fields travel beside the computed ones; a failure's `error` is one of them.
  const error = (d as Record<string, unknown>).error
  return {
    ...timed,
    status: d.status,
    progress: message.progress,
    products_completed: d.products_completed,
    total_products: d.total_products,
    current_step: d.current_step,
    // Only a failure sets the job's error; a worker's own `error` field elsewhere is just forwarded data.
    error: message.type === MessageType.Failed && typeof error === 'string' ? error : view.error,
    last_id: message.id
  }
}
