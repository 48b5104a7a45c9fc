/**
 * A small typed publisher for Node workers: persistent messages, publisher
 * confirms, event ids and timestamps filled in, and the schema checked
 * before anything leaves the process.
 */
import { randomUUID } from 'node:crypto'
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib'
import { EXCHANGE } from './constants.ts'
import type { TrainingEventMap } from './schemas.ts'
import { validateEvent } from './validate.ts'

type Publishable<K extends keyof TrainingEventMap> =
  Omit<TrainingEventMap[K], 'event_id' | 'timestamp' | 'type'> & { event_id?: string, timestamp?: string }

export interface PublisherOptions {
  /** AMQP URL; ignored when `connection` is given. */
  url?: string
  /** An existing connection to share; the publisher then leaves it open on close(). */
  connection?: ChannelModel
  exchange?: string
}

export class InvalidEventError extends Error {
  readonly code = 'EVENTS_INVALID_EVENT'
  constructor (message: string) {
    super(message)
    this.name = 'InvalidEventError'
  }
}

export interface Publisher {
  /** Publishes one event and resolves once the broker has confirmed it. Returns the event as sent. */
  publish<K extends keyof TrainingEventMap>(type: K, event: Publishable<K>): Promise<TrainingEventMap[K]>
  /** Publishes a raw body with the given routing key, confirmed; for tools and tests. */
  publishRaw(routingKey: string, body: Buffer | string, options?: amqplib.Options.Publish): Promise<void>
  close(): Promise<void>
}

export async function createPublisher (options: PublisherOptions = {}): Promise<Publisher> {
  const exchange = options.exchange ?? EXCHANGE
  const owned = options.connection === undefined
  const connection = options.connection ?? await amqplib.connect(options.url ?? 'amqp://guest:guest@127.0.0.1:5672')
  // amqplib also emits channel and connection failures as 'error' events, which
  // crash the process when nobody listens. The publisher reports them through its
  // promises instead (the failing call and every later one reject), so it listens
  // to its own channel, and to its connection when it owns it.
  const reportedByPromises = (): void => {}
  if (owned) connection.on('error', reportedByPromises)
  let channel: ConfirmChannel
  try {
    channel = await connection.createConfirmChannel()
    channel.on('error', reportedByPromises)
    await channel.assertExchange(exchange, 'topic', { durable: true })
  } catch (err) {
    if (owned) await connection.close().catch(() => {})
    throw err
  }

  function send (routingKey: string, body: Buffer, publishOptions: amqplib.Options.Publish): Promise<void> {
    return new Promise((resolve, reject) => {
      channel.publish(exchange, routingKey, body, { persistent: true, contentType: 'application/json', ...publishOptions },
        (err) => { if (err) reject(err instanceof Error ? err : new Error(String(err))); else resolve() })
    })
  }

  return {
    async publish (type, input) {
      const event = {
        ...input,
        event_id: input.event_id ?? randomUUID(),
        type,
        timestamp: input.timestamp ?? new Date().toISOString()
      }
      const checked = validateEvent(event, type)
      if (!checked.ok) throw new InvalidEventError(checked.message)
      await send(type, Buffer.from(JSON.stringify(event)), { messageId: event.event_id, type, timestamp: Math.floor(Date.now() / 1000) })
      return event as unknown as TrainingEventMap[typeof type]
    },
    async publishRaw (routingKey, body, publishOptions = {}) {
      await send(routingKey, typeof body === 'string' ? Buffer.from(body) : body, publishOptions)
    },
    async close () {
      await channel.close().catch(() => {})
      if (owned) await connection.close().catch(() => {})
    }
  }
}
