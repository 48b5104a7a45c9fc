/**
 * A small typed publisher for Node workers: persistent messages, publisher
 * confirms, event ids and timestamps filled in, and the schema checked
 * before anything leaves the process.
 *
 * Nothing is lost under broker outages: a publish resolves only once the
 * broker has confirmed the message. When the connection or the channel drops,
 * the publisher reconnects on its own and republishes every event not yet
 * confirmed, in the order they were published; publishes made meanwhile wait
 * behind them. A publish still unconfirmed after `publishTimeoutMs` rejects
 * with a PublishTimeoutError and is not sent again. A broker nack rejects at
 * once, without a retry.
 *
 * A republished event may reach the broker twice (its first confirm was lost
 * with the connection, not the message). That is safe: the body keeps its
 * `event_id`, `message_id` carries it too, and consumers apply an event id once.
 */
import { randomUUID } from 'node:crypto'
import amqplib, { type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from 'amqplib'
import { EXCHANGE } from './constants.ts'
import type { TrainingEventMap } from './schemas.ts'
import { validateEvent } from './validate.ts'

type Publishable<K extends keyof TrainingEventMap> =
  Omit<TrainingEventMap[K], 'event_id' | 'timestamp' | 'type'> & { event_id?: string, timestamp?: string }

export interface PublisherOptions {
  /** AMQP URL; ignored when `connection` is given. */
  url?: string
  /** An existing connection to share; the publisher then leaves it open on close(). */
  connection?: ChannelModel | RecoveringChannelModel
  exchange?: string
  /** How long a publish may wait for the broker's confirm (reconnects included) before it rejects with PublishTimeoutError; 1 ms to about 24.8 days. Default 30 s. */
  publishTimeoutMs?: number
  /** Back-off between reconnect attempts (the connection, when the publisher owns it, and its channel): doubling, ±30 % jitter. Default 100 ms to 5 s. */
  reconnect?: { initialDelayMs?: number, maxDelayMs?: number }
}

export class InvalidEventError extends Error {
  readonly code = 'EVENTS_INVALID_EVENT'
  constructor (message: string) {
    super(message)
    this.name = 'InvalidEventError'
  }
}

/** The broker did not confirm a publish in time (it was away, or still is); the message is not sent again. */
export class PublishTimeoutError extends Error {
  readonly code = 'EVENTS_PUBLISH_TIMEOUT'
  readonly routingKey: string
  readonly timeoutMs: number
  constructor (routingKey: string, timeoutMs: number) {
    super(`publish to "${routingKey}" was not confirmed by the broker within ${timeoutMs} ms`)
    this.name = 'PublishTimeoutError'
    this.routingKey = routingKey
    this.timeoutMs = timeoutMs
  }
}

export interface Publisher {
  /** Publishes one event and resolves once the broker has confirmed it. Returns the event as sent. */
  publish<K extends keyof TrainingEventMap>(type: K, event: Publishable<K>): Promise<TrainingEventMap[K]>
  /** Publishes a raw body with the given routing key, confirmed; for tools and tests. */
  publishRaw(routingKey: string, body: Buffer | string, options?: amqplib.Options.Publish): Promise<void>
  /** Refuses new publishes, waits until the pending ones are confirmed or timed out, then closes the channel (and its own connection). */
  close(): Promise<void>
}

const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672'
const JITTER = 0.3
const MAX_TIMEOUT_MS = 2 ** 31 - 1

/** A message waiting for its confirm, in flight on the current channel or waiting for one. */
interface Entry {
  routingKey: string
  body: Buffer
  options: amqplib.Options.Publish
  timer: NodeJS.Timeout
  resolve: () => void
  reject: (err: Error) => void
}

export async function createPublisher (options: PublisherOptions = {}): Promise<Publisher> {
  const exchange = options.exchange ?? EXCHANGE
  const timeoutMs = options.publishTimeoutMs ?? 30_000
  // Node fires a timer of more than 2^31 - 1 ms (Infinity included) after 1 ms.
  if (!(timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) throw new RangeError(`publishTimeoutMs must be from 1 to ${MAX_TIMEOUT_MS} ms, not ${timeoutMs}`)
  const initialDelayMs = options.reconnect?.initialDelayMs ?? 100
  const maxDelayMs = options.reconnect?.maxDelayMs ?? 5000
  const owned = options.connection === undefined
  // amqplib's own recovery reconnects the connection with capped, jittered
  // back-off; the first connect still fails fast (initialMaxRetries: 0), so a
  // wrong URL or an absent broker fails the worker's start.
  const connection = options.connection ?? await amqplib.connect(options.url ?? DEFAULT_URL, {
    clientProperties: { connection_name: 'training-live publisher' },
    recovery: { initialDelay: initialDelayMs, maxDelay: maxDelayMs, factor: 2, jitter: JITTER, maxRetries: Infinity, initialMaxRetries: 0 }
  })
  // amqplib also emits channel and connection failures as 'error' events, which
  // crash the process when nobody listens. The publisher recovers from them
  // instead, so it listens to its own channels, and to its connection when it
  // owns it.
  const ignore = (): void => {}
  if (owned) {
    connection.on('error', ignore)
    connection.on('handler-error', ignore)
  }

  // amqplib's recovery brings the connection back, but not the channels opened
  // on it, nor the messages whose confirms were lost with them, and no library
  // we know of does that on top of amqplib 2.3's recovery; so it is written
  // here. The publisher keeps its own confirm channel and, when it closes,
  // opens another (createConfirmChannel waits for the recovered connection),
  // re-declares the exchange and republishes, in publish order, every entry
  // of `pending`; publishes made meanwhile wait at the end of it.
  /** Unconfirmed entries in publish order (a Set iterates in insertion order). */
  const pending = new Set<Entry>()
  /** The open channel, the exchange declared on it; every pending entry has been sent on it. */
  let channel: ConfirmChannel | undefined
  /** Reopen attempts since the last confirm, for the back-off. */
  let attempt = 0
  let reopenTimer: NodeJS.Timeout | undefined
  let accepting = true
  let stopped = false
  let closing: Promise<void> | undefined
  let drained: (() => void) | undefined

  async function openChannel (): Promise<ConfirmChannel> {
    const ch = await connection.createConfirmChannel()
    let open = true
    ch.on('error', ignore)
    // amqplib fails the unconfirmed publish callbacks ('channel closed') from a
    // 'close' listener of its own; this one runs first, so a callback can tell
    // a lost confirm (its channel is no longer current) from a broker nack.
    ch.prependListener('close', () => {
      open = false
      if (channel !== ch) return
      channel = undefined
      scheduleReopen()
    })
    await ch.assertExchange(exchange, 'topic', { durable: true })
    if (!open) throw new Error('channel closed while it was opened')
    return ch
  }

  function backoff (): number {
    const base = Math.min(maxDelayMs / (1 + JITTER), initialDelayMs * 2 ** (attempt - 1))
    return Math.round(base * (1 + JITTER * (2 * Math.random() - 1)))
  }

  function scheduleReopen (): void {
    if (stopped) return
    // The first attempt right away (a connection loss waits inside createConfirmChannel);
    // a channel that fails again before anything was confirmed backs off.
    const delay = attempt === 0 ? 0 : backoff()
    attempt++
    reopenTimer = setTimeout(() => { void reopen() }, delay)
    // Pending entries keep the process alive with their own timers; an idle publisher does not.
    reopenTimer.unref()
  }

  async function reopen (): Promise<void> {
    reopenTimer = undefined
    let ch: ConfirmChannel
    try {
      ch = await openChannel()
    } catch {
      scheduleReopen()
      return
    }
    if (stopped) {
      await ch.close().catch(ignore)
      return
    }
    channel = ch
    // Nothing to republish: nothing that could close it again, so the next loss reopens at once.
    if (pending.size === 0) attempt = 0
    for (const entry of pending) transmit(ch, entry)
  }

  function settle (entry: Entry, err: unknown): void {
    pending.delete(entry)
    clearTimeout(entry.timer)
    if (err) entry.reject(err instanceof Error ? err : new Error(String(err)))
    else entry.resolve()
    if (pending.size === 0) drained?.()
  }

  function transmit (ch: ConfirmChannel, entry: Entry): void {
    try {
      ch.publish(exchange, entry.routingKey, entry.body, entry.options, (err) => {
        // Timed out meanwhile, or lost with its channel (it goes again on the next one).
        if (!pending.has(entry) || ch !== channel) return
        attempt = 0
        settle(entry, err)
      })
    } catch (err) {
      // Options amqplib cannot encode: the caller's mistake, not the broker's.
      settle(entry, err)
    }
  }

  function send (routingKey: string, body: Buffer, publishOptions: amqplib.Options.Publish): Promise<void> {
    if (!accepting) return Promise.reject(new Error('publisher closed'))
    return new Promise((resolve, reject) => {
      const entry: Entry = {
        routingKey,
        body,
        options: { persistent: true, contentType: 'application/json', ...publishOptions },
        timer: setTimeout(() => settle(entry, new PublishTimeoutError(routingKey, timeoutMs)), timeoutMs),
        resolve,
        reject
      }
      pending.add(entry)
      if (channel) transmit(channel, entry)
    })
  }

  try {
    channel = await openChannel()
  } catch (err) {
    if (owned) await connection.close().catch(ignore)
    throw err
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
    close () {
      closing ??= (async () => {
        accepting = false
        if (pending.size > 0) await new Promise<void>(resolve => { drained = resolve })
        stopped = true
        clearTimeout(reopenTimer)
        const ch = channel
        channel = undefined
        await ch?.close().catch(ignore)
        if (owned) await connection.close().catch(ignore)
      })()
      return closing
    }
  }
}
