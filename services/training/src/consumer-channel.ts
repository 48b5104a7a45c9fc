/**
 * Keeps the consumer on a channel for as long as the connection lives.
 * amqplib's recovery reopens the connection, not a channel the broker
 * closed on its own (a channel error, a consumer timeout) nor a consumer it
 * cancelled (the queue deleted, its node lost): without this, the replica
 * would stay connected but consume nothing, and never be ready again.
 */
import type { ChannelModel } from 'amqplib'
import type { FastifyBaseLogger } from 'fastify'
import type { EventConsumer, TopologyOptions } from './event-consumer.ts'
import { retryDelay } from '@training-live/service-kit'

const REOPEN_MIN_MS = 500
const REOPEN_MAX_MS = 15_000

export class ConsumerChannel {
  readonly #consumer: EventConsumer
  readonly #topology: TopologyOptions
  readonly #log: FastifyBaseLogger
  #model: ChannelModel | null = null
  #timer: NodeJS.Timeout | null = null
  #stopped = false

  constructor (consumer: EventConsumer, topology: TopologyOptions, log: FastifyBaseLogger) {
    this.#consumer = consumer
    this.#topology = topology
    this.#log = log
  }

  /** Consumes on a new channel of `model`; called after every (re)connect. */
  async attach (model: ChannelModel): Promise<void> {
    this.#model = model
    model.once('close', () => { if (this.#model === model) this.#model = null })
    await this.#open(model)
  }

  /** No more reopening (the service is draining). */
  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
  }

  async #open (model: ChannelModel): Promise<void> {
    const channel = await model.createChannel()
    channel.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'amqp channel error'))
    channel.on('close', () => {
      // Closed with its connection: the connection's recovery opens the next one.
      if (this.#stopped || this.#model !== model) return
      this.#log.warn('the broker closed the consumer\'s channel; opening another')
      this.#schedule(model, 0)
    })
    await this.#consumer.start(channel, this.#topology, () => { void channel.close().catch(() => {}) })
    if (this.#consumer.consuming) this.#log.info({ queue: this.#topology.queue }, 'consuming')
  }

  #schedule (model: ChannelModel, attempt: number): void {
    const delay = retryDelay(attempt, REOPEN_MIN_MS, REOPEN_MAX_MS)
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (this.#stopped || this.#model !== model) return
      this.#open(model).catch((err: Error) => {
        this.#log.warn({ err: err.message, attempt }, 'could not reopen the consumer\'s channel; retrying')
        this.#schedule(model, attempt + 1)
      })
    }, delay)
    this.#timer.unref()
  }
}
