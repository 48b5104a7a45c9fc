/**
 * Whether Redis answers, not only whether its sockets are open. A paused or
 * overloaded server keeps the connection up while every command waits, so
 * connection events alone would keep /ready at 200 through it: a PING with a
 * deadline tells. Down is reported as soon as a connection closes or a PING
 * misses its deadline, up again once a PING is answered over ready
 * connections.
 */
import { EventEmitter } from 'node:events'

/** What the monitor needs of a Redis client (ioredis' Redis and Cluster both fit). */
export interface PingableRedis extends EventEmitter {
  readonly status: string
  ping (): Promise<unknown>
}

export interface RedisHealthOptions {
  /** Time between two PINGs (a PING still unanswered is not repeated). */
  intervalMs: number
  /** A PING unanswered this long makes Redis down until one is answered. */
  timeoutMs: number
}

export interface RedisHealthEvents {
  change: [healthy: boolean]
}

export class RedisHealth extends EventEmitter<RedisHealthEvents> {
  readonly #clients: PingableRedis[]
  readonly #options: RedisHealthOptions
  #healthy = false
  #pinging = false
  #timer: NodeJS.Timeout | null = null

  /** `clients[0]` answers the PINGs; every client must be connected. */
  constructor (clients: PingableRedis[], options: RedisHealthOptions) {
    super()
    this.#clients = clients
    this.#options = options
    for (const client of clients) {
      client.on('close', () => this.#set(false))
      client.on('ready', () => { void this.check() })
    }
  }

  get healthy (): boolean {
    return this.#healthy
  }

  start (): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => { void this.check() }, this.#options.intervalMs)
    this.#timer.unref()
    void this.check()
  }

  stop (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** Resolves once Redis is down (at once if it is). */
  whenDown (): Promise<void> {
    if (!this.#healthy) return Promise.resolve()
    return new Promise(resolve => {
      const listener = (healthy: boolean) => {
        if (healthy) return
        this.off('change', listener)
        resolve()
      }
      this.on('change', listener)
    })
  }

  /** One PING (unless one is already out); resolves once its answer or its deadline is known. */
  async check (): Promise<void> {
    if (this.#pinging) return
    if (!this.#clients.every(c => c.status === 'ready')) { this.#set(false); return }
    this.#pinging = true
    let deadline: NodeJS.Timeout | undefined
    const late = new Promise<'late'>(resolve => { deadline = setTimeout(() => resolve('late'), this.#options.timeoutMs) })
    const ping = (this.#clients[0] as PingableRedis).ping().then(() => 'answered' as const, () => 'failed' as const)
    // The deadline only marks Redis down; the PING stays out, and its answer marks it up again.
    const first = await Promise.race([ping, late])
    clearTimeout(deadline)
    if (first === 'late') this.#set(false)
    const outcome = first === 'late' ? await ping : first
    this.#pinging = false
    this.#set(outcome === 'answered' && this.#clients.every(c => c.status === 'ready'))
  }

  #set (healthy: boolean): void {
    if (healthy === this.#healthy) return
    this.#healthy = healthy
    this.emit('change', healthy)
  }
}
