/**
 * @training-live/client: watch a training job's live progress from a browser
 * or Node. Nothing here imports a Node module, so it bundles for browsers.
 */
export { watchJob } from './watch-job.ts'
export type { ConnectionState, JobWatch, JobWatchEvents, RetryInfo, RetryReason, WatchOptions } from './job-watch.ts'
export { WatchError } from './watch-error.ts'
export { describeRetryReason } from './retry-reason.ts'
export type { WatchErrorCode, WatchErrorDetails } from './watch-error.ts'
export { DEFAULT_BACKOFF, backoffCap, backoffDelay } from './backoff.ts'
export type { BackoffOptions } from './backoff.ts'
export type { WebSocketConstructor, WebSocketLike } from './socket.ts'
export type { JobView, ServerMessage, ConnectedMessage, LiveEventMessage } from '@training-live/events'
