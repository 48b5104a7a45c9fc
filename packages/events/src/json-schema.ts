import type { TSchema } from 'typebox'
import {
  CompletedEvent, ConnectedMessage, FailedEvent, LiveEventMessage, ProductCompletedEvent, ProgressEvent,
  ServerMessage, StartedEvent, TrainingEvent
} from './schemas.ts'

const BASE = 'https://training-live.dev/schema/'

const FILES: Record<string, TSchema> = {
  'training-event.json': TrainingEvent,
  'training.started.json': StartedEvent,
  'training.progress.json': ProgressEvent,
  'training.product.completed.json': ProductCompletedEvent,
  'training.completed.json': CompletedEvent,
  'training.failed.json': FailedEvent,
  'live-connected-message.json': ConnectedMessage,
  'live-event-message.json': LiveEventMessage,
  'live-server-message.json': ServerMessage
}

/** The JSON Schema documents published in `schema/`, by file name, as their file text. */
export function renderSchemaFiles (): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, schema] of Object.entries(FILES)) {
    const document = { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: BASE + name, ...schema }
    out[name] = JSON.stringify(document, null, 2) + '\n'
  }
  return out
}
