/**
 * The one source of truth for what travels on the wire: TypeBox schemas,
 * from which the static types and the published JSON Schema files derive.
 */
import { Type, type Static, type TSchema } from 'typebox'
import { EventType, ID_PATTERN, JobStatus, MessageType } from './constants.ts'
import { STREAM_ID_PATTERN } from './stream-id.ts'

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })
const Count = (description: string) => Type.Integer({ minimum: 0, description })

export const StartedData = Type.Object({
  total_products: Count('How many products the job trains.')
}, { additionalProperties: true })

export const ProgressData = Type.Object({
  step: Type.String({ minLength: 1, description: 'The step under way, e.g. "Data Analysis".' }),
  progress: Type.Optional(Type.Number({ description: 'The worker\'s own progress figure for the step; forwarded, not used for the job\'s progress.' }))
}, { additionalProperties: true })

export const ProductCompletedData = Type.Object({
  product_name: Type.String({ minLength: 1, description: 'The product whose model finished training.' }),
  total_products: Type.Integer({ minimum: 1, description: 'How many products the job trains.' }),
  products_completed: Type.Optional(Count('The worker\'s own count; the service counts distinct product names instead.')),
  current_step: Type.Optional(Type.String()),
  step_details: Type.Optional(Type.Unknown())
}, { additionalProperties: true })

export const CompletedData = Type.Object({
  successful_trainings: Type.Optional(Count('Products trained successfully.')),
  failed_trainings: Type.Optional(Count('Products whose training failed.')),
  total_duration: Type.Optional(Type.Number({ minimum: 0, description: 'Seconds.' }))
}, { additionalProperties: true })

export const FailedData = Type.Object({
  error: Type.String({ minLength: 1, description: 'Why the job failed.' })
}, { additionalProperties: true })

function envelope<K extends EventType, D extends TSchema> (type: K, data: D, title: string) {
  return Type.Object({
    event_id: Type.String({ minLength: 1, maxLength: 200, description: 'Unique per event; a redelivered or republished event with the same id is applied once.' }),
    type: Type.Literal(type),
    job_id: Id('The training job.'),
    tenant_id: Id('The tenant that owns the job.'),
    timestamp: Type.String({ format: 'date-time', description: 'When the worker emitted the event (RFC 3339).' }),
    data
  }, { additionalProperties: true, title })
}

export const StartedEvent = envelope(EventType.Started, StartedData, 'training.started')
export const ProgressEvent = envelope(EventType.Progress, ProgressData, 'training.progress')
export const ProductCompletedEvent = envelope(EventType.ProductCompleted, ProductCompletedData, 'training.product.completed')
export const CompletedEvent = envelope(EventType.Completed, CompletedData, 'training.completed')
export const FailedEvent = envelope(EventType.Failed, FailedData, 'training.failed')

export const TrainingEvent = Type.Union(
  [StartedEvent, ProgressEvent, ProductCompletedEvent, CompletedEvent, FailedEvent],
  { title: 'TrainingEvent', description: 'A message published to the training.events exchange; its routing key equals its type.' }
)

/** The fields every event shares, used to name the job of an event that fails its own type's schema. */
export const EventEnvelope = Type.Object({
  event_id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.Union([
    Type.Literal(EventType.Started), Type.Literal(EventType.Progress), Type.Literal(EventType.ProductCompleted),
    Type.Literal(EventType.Completed), Type.Literal(EventType.Failed)
  ]),
  job_id: Id('The training job.'),
  tenant_id: Id('The tenant that owns the job.'),
  timestamp: Type.String({ format: 'date-time' }),
  data: Type.Object({}, { additionalProperties: true })
}, { additionalProperties: true, title: 'EventEnvelope' })

export type StartedEvent = Static<typeof StartedEvent>
export type ProgressEvent = Static<typeof ProgressEvent>
export type ProductCompletedEvent = Static<typeof ProductCompletedEvent>
export type CompletedEvent = Static<typeof CompletedEvent>
export type FailedEvent = Static<typeof FailedEvent>
export type TrainingEvent = Static<typeof TrainingEvent>

/** Event type -> event, for typed handlers and publishers. */
export interface TrainingEventMap {
  'training.started': StartedEvent
  'training.progress': ProgressEvent
  'training.product.completed': ProductCompletedEvent
  'training.completed': CompletedEvent
  'training.failed': FailedEvent
}

// ---- WebSocket messages (server -> client) ----

const Status = Type.Union([
  Type.Literal(JobStatus.Pending), Type.Literal(JobStatus.Running), Type.Literal(JobStatus.Completed), Type.Literal(JobStatus.Failed)
])

export const JobSnapshot = Type.Object({
  status: Status,
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  products_completed: Count('Distinct products completed so far.'),
  total_products: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  current_step: Type.Union([Type.String(), Type.Null()]),
  error: Type.Optional(Type.String()),
  last_id: Type.Union([Type.String(), Type.Null()], { description: 'Id of the latest event in the job\'s history, or null when there is none.' }),
  recovered: Type.Optional(Type.Boolean({ description: 'Only when the client sent last_id: false when the history no longer reaches back that far.' }))
})

export const ConnectedMessage = Type.Object({
  type: Type.Literal(MessageType.Connected),
  job_id: Type.String(),
  tenant_id: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  data: JobSnapshot
}, { title: 'ConnectedMessage' })

export const LiveEventMessage = Type.Object({
  id: Type.String({ description: 'Event position in the job\'s history; pass it back as last_id to resume. Increases strictly within a job.' }),
  type: Type.Union([
    Type.Literal(MessageType.Started), Type.Literal(MessageType.Progress), Type.Literal(MessageType.ProductCompleted),
    Type.Literal(MessageType.Completed), Type.Literal(MessageType.Failed)
  ]),
  job_id: Type.String(),
  tenant_id: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  data: Type.Object({
    status: Status,
    products_completed: Count('Distinct products completed so far.'),
    total_products: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    current_step: Type.Union([Type.String(), Type.Null()])
  }, { additionalProperties: true, description: 'The event\'s own data, plus the job\'s computed status and counts.' })
}, { title: 'LiveEventMessage' })

export const PongMessage = Type.Object({ type: Type.Literal(MessageType.Pong) }, { title: 'PongMessage' })
export const ErrorMessage = Type.Object({
  type: Type.Literal(MessageType.Error),
  code: Type.String(),
  message: Type.String()
}, { title: 'ErrorMessage' })

export const ServerMessage = Type.Union([ConnectedMessage, LiveEventMessage, PongMessage, ErrorMessage], { title: 'ServerMessage' })
export const ClientMessage = Type.Object({ type: Type.Literal(MessageType.Ping) }, { title: 'ClientMessage', additionalProperties: true })

export type JobSnapshot = Static<typeof JobSnapshot>
export type ConnectedMessage = Static<typeof ConnectedMessage>
export type LiveEventMessage = Static<typeof LiveEventMessage>
export type PongMessage = Static<typeof PongMessage>
export type ErrorMessage = Static<typeof ErrorMessage>
export type ServerMessage = Static<typeof ServerMessage>
export type ClientMessage = Static<typeof ClientMessage>

// ---- The live route's request ----

export const LiveParams = Type.Object({
  tenant_id: Type.String({ pattern: ID_PATTERN }),
  job_id: Type.String({ pattern: ID_PATTERN })
})
export const LiveQuery = Type.Object({
  last_id: Type.Optional(Type.String({ pattern: STREAM_ID_PATTERN.source, description: 'Resume after this event id.' })),
  token: Type.Optional(Type.String())
})
export type LiveParams = Static<typeof LiveParams>
export type LiveQuery = Static<typeof LiveQuery>
