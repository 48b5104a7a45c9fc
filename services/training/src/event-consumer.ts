/**
 * The one global consumer of `training.#`. It depends only on an
 * EventApplier-like sink, so it knows nothing of sockets.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Channel, ConsumeMessage } from 'amqplib'
import type { FastifyBaseLogger } from 'fastify'
import { parseEvent, type TrainingEvent } from '@training-live/events'
import type { ApplyOutcome } from './event-applier.ts'
import type { TrainingMetrics } from './metrics.ts'
import { retryDelay } from '@training-live/service-kit'

export interface EventSink {
  apply (event: TrainingEvent): Promise<ApplyOutcome>
}

export interface TopologyOptions {
  exchange: string
  queue: string
  deadLetterExchange: string
  deadLetterQueue: string
  prefetch: number
  /** `quorum` in production: replicated over the broker's nodes, and it keeps the single active consumer. */
  queueType: 'classic' | 'quorum'
}

/** Declares the exchanges and queues; idempotent, so every replica and every reconnect runs it. */
export async function declareTopology (channel: Channel, o: TopologyOptions): Promise<void> {
  await channel.assertExchange(o.exchange, 'topic', { durable: true })
  await channel.assertExchange(o.deadLetterExchange, 'fanout', { durable: true })
  await channel.assertQueue(o.deadLetterQueue, { durable: true })
  await channel.bindQueue(o.deadLetterQueue, o.deadLetterExchange, '')
  await channel.assertQueue(o.queue, {
    durable: true,
    arguments: {
      // Only one replica consumes at a time, so each job's events are applied in order;
      // the broker fails over to another replica when it goes away.
      'x-single-active-consumer': true,
      'x-dead-letter-exchange': o.deadLetterExchange,
      // Only when quorum: an existing classic queue declared without the argument would otherwise be
      // refused as inequivalent by some broker versions.
      ...(o.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {})
    }
  })
  await channel.bindQueue(o.queue, o.exchange, 'training.#')
}

const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

/**
 * Settles one channel's deliveries. Acks are sent once per turn of the event loop: the longest
 * run of handled deliveries at the front (in delivery order) with one `multiple` ack, the others
 * one by one. So a commit that returns many events costs one frame, not one each, and an ack never
 * covers a delivery that was not handled (one held back while draining stays unacknowledged).
 */
export class Acks {
  readonly #channel: Channel
  /** Deliveries not settled yet, in delivery order; true once handled. */
  readonly #unsettled = new Map<number, { msg: ConsumeMessage, handled: boolean }>()
  #handled: ConsumeMessage[] = []
  #scheduled = false

  constructor (channel: Channel) {
    this.#channel = channel
  }

  delivered (msg: ConsumeMessage): void {
    this.#unsettled.set(msg.fields.deliveryTag, { msg, handled: false })
  }

  ack (msg: ConsumeMessage): void {
    const entry = this.#unsettled.get(msg.fields.deliveryTag)
    if (entry === undefined) return
    entry.handled = true
    this.#handled.push(msg)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.flush())
  }

  /** Dead-letters at once. */
  reject (msg: ConsumeMessage): void {
    this.#unsettled.delete(msg.fields.deliveryTag)
    safely(() => this.#channel.nack(msg, false, false))
  }

  /** Sends the acks due now. */
  flush (): void {
    this.#scheduled = false
    let upTo: ConsumeMessage | null = null
    for (const [tag, entry] of this.#unsettled) {
      if (!entry.handled) break
      this.#unsettled.delete(tag)
      upTo = entry.msg
    }
    if (upTo !== null) {
      const last = upTo
      safely(() => this.#channel.ack(last, true))
    }
    for (const msg of this.#handled) {
      if (this.#unsettled.delete(msg.fields.deliveryTag)) safely(() => this.#channel.ack(msg))
    }
    this.#handled = []
  }
}

export class EventConsumer {
  readonly #sink: EventSink
  readonly #metrics: TrainingMetrics
  readonly #log: FastifyBaseLogger
  readonly #inFlight = new Set<Promise<void>>()
  #channel: Channel | null = null
  #acks: Acks | null = null
  #consumerTag: string | null = null
  #queue = ''
  #onCancelled: () => void = () => {}
  #paused = false
  #stopping = false

  constructor (sink: EventSink, metrics: TrainingMetrics, log: FastifyBaseLogger) {
    this.#sink = sink
    this.#metrics = metrics
    this.#log = log
  }

  get consuming (): boolean {
    return this.#channel !== null && this.#consumerTag !== null
  }

  /** On a channel, consuming or paused. */
  get attached (): boolean {
    return this.#channel !== null
  }

  /** Paused: the store is away, so deliveries would only pile up unacked here instead of waiting in the queue. */
  get paused (): boolean {
    return this.#paused
  }

  /**
   * Starts consuming on a fresh channel; called after every (re)connect. `onCancelled` runs when the
   * broker cancels the consumer (the queue was deleted, or its node lost): the channel is then of no
   * further use, and the caller replaces it (which declares the queue again). While paused, the
   * channel is set up but consumes only once resumed.
   */
  async start (channel: Channel, o: TopologyOptions, onCancelled: () => void = () => {}): Promise<void> {
    // A reconnect during a drain must not start consuming again.
    if (this.#stopping) { await channel.close().catch(() => {}); return }
    await declareTopology(channel, o)
    await channel.prefetch(o.prefetch)
    this.#channel = channel
    this.#acks = new Acks(channel)
    this.#queue = o.queue
    this.#onCancelled = onCancelled
    channel.on('close', () => {
      if (this.#channel === channel) { this.#channel = null; this.#acks = null; this.#consumerTag = null }
    })
    if (!this.#paused) await this.#consume(channel)
  }

  /**
   * Stops taking deliveries (basic.cancel): what is published meanwhile waits in the queue, and the
   * deliveries already taken stay unacknowledged until they are applied. With a single active
   * consumer the broker hands the queue to a standby replica, which is the point if only this
   * replica lost the store; if all did, each pauses and the queue simply waits.
   */
  async pause (): Promise<void> {
    if (this.#paused) return
    this.#paused = true
    const channel = this.#channel
    const tag = this.#consumerTag
    this.#consumerTag = null
    if (channel !== null && tag !== null) await channel.cancel(tag).catch(() => {})
  }

  /** Consumes again after pause(). */
  async resume (): Promise<void> {
    if (!this.#paused) return
    this.#paused = false
    const channel = this.#channel
    if (channel !== null && this.#consumerTag === null && !this.#stopping) await this.#consume(channel).catch(() => {})
  }

  async #consume (channel: Channel): Promise<void> {
    const acks = this.#acks as Acks
    const onCancelled = this.#onCancelled
    const { consumerTag } = await channel.consume(this.#queue, msg => {
      if (msg === null) {
        this.#log.warn('the broker cancelled the consumer')
        this.#consumerTag = null
        onCancelled()
        return
      }
      acks.delivered(msg)
      // Draining: left unacked, it goes back to the queue, in its place, when stop() closes the channel.
      if (this.#stopping) return
      // #handle is written not to throw; should it ever, log rather than crash the process.
      const work = this.#handle(channel, acks, msg).catch(err => { this.#log.error({ err }, 'event handling failed; left unacked') })
      this.#inFlight.add(work)
      void work.finally(() => this.#inFlight.delete(work))
    }, { noAck: false })
    // Paused, or the channel replaced, while the consume was on its way: take it back.
    if (this.#paused || this.#channel !== channel) {
      await channel.cancel(consumerTag).catch(() => {})
      return
    }
    this.#consumerTag = consumerTag
  }

  /**
   * Stops taking new events, waits for those in flight to be applied and acked, then closes the
   * channel, which hands back what arrived meanwhile. The order matters: with a single active
   * consumer the broker activates a standby replica as soon as this consumer is gone, so cancelling
   * first would let the standby apply a job's next events while this replica still applies earlier
   * ones. Closing only once nothing is in flight keeps every job's events applied in queue order.
   * Events in flight cannot be applied while the store is away, so once `abandon` resolves the wait
   * ends: their deliveries go back to the queue with the channel, and are applied once elsewhere
   * or later (event ids make a second application a no-op).
   */
  async stop (abandon: Promise<void> = new Promise(() => {})): Promise<void> {
    this.#stopping = true
    await Promise.race([Promise.allSettled([...this.#inFlight]), abandon])
    this.#acks?.flush()
    const channel = this.#channel
    this.#channel = null
    this.#acks = null
    this.#consumerTag = null
    if (channel !== null) await channel.close().catch(() => {})
  }

  async #handle (channel: Channel, acks: Acks, msg: ConsumeMessage): Promise<void> {
    if (msg.fields.redelivered) this.#metrics.redelivered.inc()
    const parsed = parseEvent(msg.content, msg.fields.routingKey, msg.properties.messageId as string | undefined)
    if (!parsed.ok) {
      this.#log.warn({
        reason: parsed.reason,
        error: parsed.message,
        routing_key: msg.fields.routingKey,
        event_id: parsed.event_id,
        tenant_id: parsed.tenant_id,
        job_id: parsed.job_id
      }, 'invalid event dead-lettered')
      this.#metrics.deadLettered.inc({ reason: parsed.reason })
      this.#metrics.events.inc({ type: 'invalid', outcome: 'dead_lettered' })
      acks.reject(msg)
      return
    }
    const event = parsed.event
    const started = performance.now()
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.#sink.apply(event)
        this.#metrics.events.inc({ type: event.type, outcome: result.outcome })
        this.#metrics.applyDuration.observe((performance.now() - started) / 1000)
        acks.ack(msg)
        return
      } catch (err) {
        // Not acked: if this channel is gone, the broker redelivers the event elsewhere.
        this.#metrics.applyErrors.inc()
        if (this.#channel !== channel || this.#stopping) {
          this.#log.warn({ err, event_id: event.event_id, tenant_id: event.tenant_id, job_id: event.job_id }, 'event left unacked for redelivery')
          return
        }
        const delay = retryDelay(attempt, RETRY_MIN_MS, RETRY_MAX_MS)
        this.#log.error({ err, attempt, event_id: event.event_id, tenant_id: event.tenant_id, job_id: event.job_id }, 'applying event failed; retrying')
        await sleep(delay)
      }
    }
  }
}

/** Acks on a channel that closed meanwhile throw; the broker redelivers those events anyway. */
function safely (fn: () => void): void {
  try { fn() } catch {}
}
