/**
 * Reads the queue's depth and consumer count for /metrics: the consumer lag
 * an operator alerts on. A passive declare on a channel of its own, so that
 * a failed read (the queue deleted) never closes the consumer's channel.
 */
import type { Channel, ChannelModel } from 'amqplib'
import type { Gauge } from 'prom-client'

export interface QueueGauges {
  queueMessages: Gauge
  queueConsumers: Gauge
}

export class QueueStats {
  readonly #queue: string
  readonly #gauges: QueueGauges
  #model: ChannelModel | null = null
  #channel: Promise<Channel> | null = null

  constructor (queue: string, gauges: QueueGauges) {
    this.#queue = queue
    this.#gauges = gauges
  }

  /** The connection to read on; called after every (re)connect. */
  attach (model: ChannelModel): void {
    this.#model = model
    this.#channel = null
  }

  detach (): void {
    this.#model = null
    this.#channel = null
  }

  /** Reads once; false when it could not (no connection, or the read failed). */
  async read (): Promise<boolean> {
    const model = this.#model
    if (model === null) return false
    try {
      if (this.#channel === null) {
        const opening = model.createChannel()
        this.#channel = opening
        const channel = await opening
        channel.on('error', () => {})
        channel.on('close', () => { if (this.#channel === opening) this.#channel = null })
      }
      const { messageCount, consumerCount } = await (await this.#channel).checkQueue(this.#queue)
      this.#gauges.queueMessages.set(messageCount)
      this.#gauges.queueConsumers.set(consumerCount)
      return true
    } catch {
      this.#channel = null
      return false
    }
  }
}
