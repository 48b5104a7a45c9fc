/**
 * The live core every transport shares: the job store, the hub (one Redis
 * subscription per job with local receivers), the opening read (snapshot
 * and history after `last_id`), and the resync after the subscriber
 * connection drops. A transport (the direct WebSocket route, a gateway's
 * link) is a thin edge that joins receivers to the hub and sends what the
 * core hands it.
 */
import type { FastifyBaseLogger } from 'fastify'
import { CloseCode, MessageType, isTerminal, snapshotOf, type ConnectedMessage } from '@training-live/events'
import type { RedisClient } from './redis-connection.ts'
import { LiveHub, messageTimestamp, type LiveSink } from './live-hub.ts'
import { RedisJobStore, reachesBack, type JobHistoryRead } from './job-store.ts'
import type { TrainingMetrics } from './metrics.ts'

/** A receiver that outlives a subscriber reconnect: held while it is down, then given what it missed. */
export interface Resumable extends LiveSink {
  /** Id of the last message it has, or null. */
  readonly lastId: string | null
  /** True once its opening read went out (before that, the opening read itself covers what it missed). */
  readonly started: boolean
  hold (): void
  resume (missed: Array<{ raw: string, id: string }>): Promise<void> | void
  close (code: number, reason: string): void
}

/** What a receiver starts with: the snapshot message, the history after `last_id`, where they stand. */
export interface Opening {
  snapshot: string
  history: Array<{ raw: string, id: string }>
  lastId: string | null
  finished: boolean
}

export interface LiveCoreOptions {
  store: RedisJobStore
  subscriber: RedisClient
  metrics: TrainingMetrics
  log: FastifyBaseLogger
}

export class LiveCore {
  readonly store: RedisJobStore
  readonly hub: LiveHub
  readonly #subscriber: RedisClient
  readonly #log: FastifyBaseLogger
  readonly #resumables = new Map<Resumable, { tenantId: string, jobId: string, started: Promise<unknown> }>()
  #generation = 0
  #dropped = false

  constructor (o: LiveCoreOptions) {
    this.store = o.store
    this.#subscriber = o.subscriber
    this.#log = o.log
    const subscriber = o.subscriber
    this.hub = new LiveHub({
      subscribe: channel => subscriber.subscribe(channel),
      unsubscribe: channel => subscriber.unsubscribe(channel)
    })
    // The bytes as Redis sent them: not decoded here, nor encoded again for each receiver.
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (this.hub.deliver(channel.toString(), message) === 0) return
      // Once per message and process, not per receiver. The worker's clock sets the timestamp: skew shows.
      const emitted = messageTimestamp(message)
      if (!Number.isNaN(emitted)) o.metrics.liveLatency.observe(Math.max(0, Date.now() - emitted) / 1000)
    })
    // Pub/sub does not queue: what is published while the subscriber reconnects never reaches it.
    // So every receiver is held from the moment it drops; once it is back and subscribed again, each
    // gets what it missed from the history, then what was held. Nothing is closed; nothing is lost.
    subscriber.on('close', () => {
      this.#dropped = true
      this.#generation++
      for (const r of this.#resumables.keys()) r.hold()
    })
    subscriber.on('ready', () => {
      if (!this.#dropped) return
      this.#dropped = false
      void this.#resync(this.#generation)
    })
  }

  channel (tenantId: string, jobId: string): string {
    return this.store.channel(tenantId, jobId)
  }

  /** Follows `r` through subscriber reconnects, once `started` (its opening) has settled. */
  track (r: Resumable, tenantId: string, jobId: string, started: Promise<unknown>): void {
    this.#resumables.set(r, { tenantId, jobId, started })
  }

  untrack (r: Resumable): void {
    this.#resumables.delete(r)
  }

  /** Reads the job for a receiver that joined its channel: the snapshot, and with `lastId` what followed it. */
  async open (tenantId: string, jobId: string, lastId: string | null): Promise<Opening> {
    const read = await this.store.read(tenantId, jobId, lastId)
    const snapshot = snapshotOf(read.summary, read.lastId)
    let history = read.messages
    if (lastId !== null) {
      const recovered = reachesBack(read, lastId)
      snapshot.recovered = recovered
      if (!recovered) history = []
    }
    const message: ConnectedMessage = {
      type: MessageType.Connected, job_id: jobId, tenant_id: tenantId, timestamp: new Date().toISOString(), data: snapshot
    }
    return { snapshot: JSON.stringify(message), history, lastId: read.lastId, finished: isTerminal(read.summary.status) }
  }

  async #resync (gen: number): Promise<void> {
    try {
      // Confirmed subscriptions first (after ioredis' own resubscribe), so the reads below miss nothing.
      const channels = this.hub.channelNames
      if (channels.length > 0) await this.#subscriber.subscribe(...channels)
    } catch {
      return // Dropped again: the next 'ready' resyncs.
    }
    // Receivers of one job that stood at the same id share one read.
    const reads = new Map<string, Promise<JobHistoryRead>>()
    await Promise.all([...this.#resumables].map(async ([r, { tenantId, jobId, started }]) => {
      await started
      if (gen !== this.#generation || !r.started) return
      const after = r.lastId ?? '0-0'
      const key = `${tenantId}/${jobId}/${after}`
      try {
        let pending = reads.get(key)
        if (pending === undefined) {
          pending = this.store.read(tenantId, jobId, after)
          reads.set(key, pending)
        }
        const read = await pending
        if (gen !== this.#generation) return
        if (read.historyExists && !reachesBack(read, after)) {
          // What it missed is no longer all in the history: let the client resume and be told.
          r.close(CloseCode.UpstreamLost, 'history lost')
          return
        }
        // Paced by the receiver; a later resync supersedes it.
        void r.resume(read.messages)
      } catch (err) {
        this.#log.warn({ err, tenant_id: tenantId, job_id: jobId }, 'could not resync a live receiver; closing it')
        r.close(CloseCode.UpstreamLost, 'state unavailable')
      }
    }))
  }
}
