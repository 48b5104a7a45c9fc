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

export interface EventSink {
  apply (event: TrainingEvent): Promise<ApplyOutcome>
}

export interface TopologyOptions {
  exchange: string
  queue: string
  deadLetterExchange: string
  deadLetterQueue: string
  prefetch: number
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
      'x-dead-letter-exchange': o.deadLetterExchange
    }
  })
  await channel.bindQueue(o.queue, o.exchange, 'training.#')
}

const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

export class EventConsumer {
  readonly #sink: EventSink
  readonly #metrics: TrainingMetrics
  readonly #log: FastifyBaseLogger
  readonly #inFlight = new Set<Promise<void>>()
  #channel: Channel | null = null
  #consumerTag: string | null = null
  #stopping = false

  constructor (sink: EventSink, metrics: TrainingMetrics, log: FastifyBaseLogger) {
    this.#sink = sink
    this.#metrics = metrics
    this.#log = log
  }

  get consuming (): boolean {
    return this.#channel !== null && this.#consumerTag !== null
  }

  /** Starts consuming on a fresh channel; called after every (re)connect. */
  async start (channel: Channel, o: TopologyOptions): Promise<void> {
    // A reconnect during a drain must not start consuming again.
    if (this.#stopping) { await channel.close().catch(() => {}); return }
    await declareTopology(channel, o)
    await channel.prefetch(o.prefetch)
    this.#channel = channel
    channel.on('close', () => {
      if (this.#channel === channel) { this.#channel = null; this.#consumerTag = null }
    })
    const { consumerTag } = await channel.consume(o.queue, msg => {
      if (msg === null) {
        this.#log.warn('the broker cancelled the consumer')
        this.#consumerTag = null
        return
      }
      // Draining: left unacked, it goes back to the queue, in its place, when stop() closes the channel.
      if (this.#stopping) return
      // #handle is written not to throw; should it ever, log rather than crash the process.
      const work = this.#handle(channel, msg).catch(err => { this.#log.error({ err }, 'event handling failed; left unacked') })
      this.#inFlight.add(work)
      void work.finally(() => this.#inFlight.delete(work))
    }, { noAck: false })
    this.#consumerTag = consumerTag
  }

  /**
   * Stops taking new events, waits for those in flight to be applied and acked, then closes the
   * channel, which hands back what arrived meanwhile. The order matters: with a single active
   * consumer the broker activates a standby replica as soon as this consumer is gone, so cancelling
   * first would let the standby apply a job's next events while this replica still applies earlier
   * ones. Closing only once nothing is in flight keeps every job's events applied in queue order.
   */
  async stop (): Promise<void> {
    this.#stopping = true
    await Promise.allSettled([...this.#inFlight])
    const channel = this.#channel
    this.#channel = null
    this.#consumerTag = null
    if (channel !== null) await channel.close().catch(() => {})
  }

  async #handle (channel: Channel, msg: ConsumeMessage): Promise<void> {
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
      safely(() => channel.nack(msg, false, false))
      return
    }
    const event = parsed.event
    const started = performance.now()
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.#sink.apply(event)
        this.#metrics.events.inc({ type: event.type, outcome: result.outcome })
        this.#metrics.applyDuration.observe((performance.now() - started) / 1000)
        safely(() => channel.ack(msg))
        return
      } catch (err) {
        // Not acked: if this channel is gone, the broker redelivers the event elsewhere.
        this.#metrics.applyErrors.inc()
        if (this.#channel !== channel || this.#stopping) {
          this.#log.warn({ err, event_id: event.event_id, tenant_id: event.tenant_id, job_id: event.job_id }, 'event left unacked for redelivery')
          return
        }
        const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
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
