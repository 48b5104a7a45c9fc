/**
 * Protocol constants shared by workers, services and browsers.
 * Every name the outside world sees is defined here once.
 */

export const EXCHANGE = 'training.events'
export const BINDING_KEY = 'training.#'
export const QUEUE = 'training.progress'
export const DEAD_LETTER_EXCHANGE = 'training.events.dlx'
export const DEAD_LETTER_QUEUE = 'training.progress.dead'

/** AMQP routing keys; an event's `type` equals its routing key. */
export const EventType = {
  Started: 'training.started',
  Progress: 'training.progress',
  ProductCompleted: 'training.product.completed',
  Completed: 'training.completed',
  Failed: 'training.failed'
} as const
export type EventType = typeof EventType[keyof typeof EventType]
export const EVENT_TYPES: readonly EventType[] = Object.values(EventType)

/** `type` of a live message sent to WebSocket clients, per event type. */
export const MessageType = {
  Connected: 'connected',
  Started: 'started',
  Progress: 'progress',
  ProductCompleted: 'product_completed',
  Completed: 'completed',
  Failed: 'failed',
  Ping: 'ping',
  Pong: 'pong',
  Error: 'error'
} as const
export type MessageType = typeof MessageType[keyof typeof MessageType]

export const LIVE_MESSAGE_TYPE = {
  [EventType.Started]: MessageType.Started,
  [EventType.Progress]: MessageType.Progress,
  [EventType.ProductCompleted]: MessageType.ProductCompleted,
  [EventType.Completed]: MessageType.Completed,
  [EventType.Failed]: MessageType.Failed
} as const satisfies Record<EventType, MessageType>
export type LiveEventType = typeof LIVE_MESSAGE_TYPE[EventType]

export const JobStatus = {
  Pending: 'pending',
  Running: 'running',
  Completed: 'completed',
  Failed: 'failed'
} as const
export type JobStatus = typeof JobStatus[keyof typeof JobStatus]
export const TERMINAL_STATUSES: readonly JobStatus[] = [JobStatus.Completed, JobStatus.Failed]

/** Progress stages, in integer percent. */
export const Stage = {
  Started: 0,
  DataAnalysis: 20,
  ProductsEnd: 80,
  Completed: 100
} as const

/** WebSocket close codes, as documented in docs/protocol.md. */
export const CloseCode = {
  /** The job reached `completed` or `failed`; nothing more will come. */
  JobFinished: 1000,
  /** The server is going away for good (not used for restarts). */
  GoingAway: 1001,
  /** The client sent something the server cannot accept (e.g. a frame too large). */
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  /** The upstream training service was lost unexpectedly: reconnect with last_id. */
  UpstreamLost: 1011,
  /** The server restarts or drains: reconnect with last_id. */
  ServiceRestart: 1012,
  /** The client cannot keep up with the stream: reconnect with last_id. */
  TryAgainLater: 1013,
  /** The token expired on an open connection: reconnect with a fresh token. */
  TokenExpired: 4001
} as const
export type CloseCode = typeof CloseCode[keyof typeof CloseCode]

/** Characters allowed in tenant and job ids (they appear in URLs and Redis keys). */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'

export const LIVE_PATH = '/api/v1/tenants/:tenant_id/training/jobs/:job_id/live'

export function livePath (tenantId: string, jobId: string): string {
  return `/api/v1/tenants/${encodeURIComponent(tenantId)}/training/jobs/${encodeURIComponent(jobId)}/live`
}

/** The subprotocol a browser offers first when it carries its token in Sec-WebSocket-Protocol. */
export const BEARER_SUBPROTOCOL = 'bearer'

/**
 * The HS256 secret the services fall back to when JWT_SECRET is unset (never in production:
 * NODE_ENV=production refuses to start without a key). Public, for local tools that mint tokens.
 */
export const DEVELOPMENT_JWT_SECRET = 'training-live-development-secret'
