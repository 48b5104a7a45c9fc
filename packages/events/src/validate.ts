import { Compile } from 'typebox/compile'
import { EVENT_TYPES, type EventType } from './constants.ts'
import {
  CompletedEvent, EventEnvelope, FailedEvent, ProductCompletedEvent, ProgressEvent, StartedEvent,
  type TrainingEvent
} from './schemas.ts'

const validators = {
  'training.started': Compile(StartedEvent),
  'training.progress': Compile(ProgressEvent),
  'training.product.completed': Compile(ProductCompletedEvent),
  'training.completed': Compile(CompletedEvent),
  'training.failed': Compile(FailedEvent)
} as const
const envelopeValidator = Compile(EventEnvelope)

/** Why an event was refused; each reason is a label of the dead-letter metric. */
export type InvalidReason = 'invalid_json' | 'unknown_type' | 'schema' | 'routing_key_mismatch'

export interface InvalidEvent {
  ok: false
  reason: InvalidReason
  message: string
  /** Present when the body names them, so logs can say which job it was. */
  event_id?: string
  tenant_id?: string
  job_id?: string
}
export interface ValidEvent { ok: true, event: TrainingEvent }
export type EventParseResult = ValidEvent | InvalidEvent

const MAX_ERRORS = 5

/**
 * Deepest nesting of objects and arrays accepted in an event (the event itself
 * is level 1). JSON.parse accepts any depth, but JSON.stringify (of the live
 * message, of a log line) overflows the stack at a few thousand levels: such an
 * event would throw on every attempt and never be acked.
 */
export const MAX_EVENT_DEPTH = 64

/** True when `value` nests objects or arrays deeper than `max` levels. Iterative, so any depth (or a cycle) is safe. */
function tooDeep (value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number]
    if (depth > max) return true
    for (const child of Object.values(current as object)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}

function str (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

export function isEventType (value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value)
}

/** Checks a decoded value against the schema of its type. */
export function validateEvent (value: unknown, routingKey?: string): EventParseResult {
  const body = (typeof value === 'object' && value !== null && !Array.isArray(value)) ? value as Record<string, unknown> : undefined
  const ids = body === undefined
    ? {}
    : { event_id: str(body.event_id), tenant_id: str(body.tenant_id), job_id: str(body.job_id) }
  if (body === undefined) {
    return { ok: false, reason: 'schema', message: 'event must be a JSON object' }
  }
  if (tooDeep(body, MAX_EVENT_DEPTH)) {
    return { ok: false, reason: 'schema', message: `event nests objects or arrays deeper than ${MAX_EVENT_DEPTH} levels`, ...ids }
  }
  const type = body.type
  if (!isEventType(type)) {
    return { ok: false, reason: 'unknown_type', message: `unknown event type ${JSON.stringify(type ?? null).slice(0, 100)}`, ...ids }
  }
  const validator = validators[type]
  if (!validator.Check(body)) {
    // The envelope's errors first: they explain most refusals in fewer words.
    const source = envelopeValidator.Check(body) ? validator.Errors(body) : envelopeValidator.Errors(body)
    const details = source.slice(0, MAX_ERRORS).map(e => `${e.instancePath || '/'} ${e.message}`).join('; ')
    return { ok: false, reason: 'schema', message: `invalid ${type} event: ${details}`, ...ids }
  }
  if (routingKey !== undefined && routingKey !== type) {
    return { ok: false, reason: 'routing_key_mismatch', message: `routing key ${routingKey} does not match type ${type}`, ...ids }
  }
  return { ok: true, event: body as TrainingEvent }
}

/**
 * Decodes and checks an AMQP message body. Never throws. A body without
 * `event_id` takes the message's `message_id` property, which may carry it.
 */
export function parseEvent (body: Buffer | string, routingKey?: string, messageId?: string): EventParseResult {
  let value: unknown
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'))
  } catch (err) {
    return { ok: false, reason: 'invalid_json', message: `body is not valid JSON: ${(err as Error).message}` }
  }
  if (typeof messageId === 'string' && messageId !== '' && typeof value === 'object' && value !== null &&
    !Array.isArray(value) && !('event_id' in value)) {
    value = { ...value, event_id: messageId }
  }
  return validateEvent(value, routingKey)
}
