/**
 * A live client that behaves like a well-written browser: it records every
 * live event id and, on any close other than 1000 (or a failed handshake),
 * reconnects after a short back-off through the next URL in its list, with
 * `last_id` set to the last id it saw and a fresh token. It asserts
 * nothing: tests read what it recorded.
 */
import WebSocket from 'ws'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Received } from './live-client.ts'
import { liveUrl } from './live-client.ts'
import { mintToken } from './tokens.ts'

export interface ResumingClientOptions {
  /** Base WebSocket URLs (gateways), tried in turn starting at `start`. */
  urls: string[]
  tenantId: string
  jobId: string
  /** Index in `urls` of the first connection (default 0), to spread clients. */
  start?: number
  /** `last_id` of the first connection; without it, the first connection starts from the snapshot. */
  lastId?: string
  /** Back-off before reconnecting, in ms (default 100, with up to as much again of jitter). */
  backoffMs?: number
  /** Give up (and reject `done`) after this long without a close 1000 (default 60 s). */
  deadlineMs?: number
}

export interface Connection {
  url: string
  /** `last_id` sent on this connection, if any. */
  lastId: string | undefined
  /** Set when the socket closed. */
  close: { code: number, reason: string } | null
}

export class ResumingClient {
  /** Every live event id received, across all connections, in arrival order. */
  readonly ids: string[] = []
  /** Every live event received (messages with an id). */
  readonly events: Received[] = []
  /** The `connected` snapshot of each connection. */
  readonly snapshots: Received[] = []
  /** Each socket opened, in order. */
  readonly connections: Connection[] = []
  /** Handshakes that failed (refused, unreachable), with the URL tried. */
  readonly failures: Array<{ url: string, error: string }> = []
  /** Resolves on a close with 1000; rejects if the deadline passes or the client is stopped first. */
  readonly done: Promise<void>
  readonly #options: Required<Omit<ResumingClientOptions, 'lastId'>>
  #lastId: string | undefined
  #attempt = 0
  #socket: WebSocket | null = null
  #stopped = false
  #resolve!: () => void
  #reject!: (err: Error) => void

  constructor (options: ResumingClientOptions) {
    this.#options = { start: 0, backoffMs: 100, deadlineMs: 60_000, ...options }
    this.#lastId = options.lastId
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => {})
    void this.#run()
  }

  /** The socket's current connection (the last one opened), or null. */
  get current (): Connection | null {
    return this.connections.at(-1) ?? null
  }

  /** Close codes of every connection that closed, in order. */
  get closeCodes (): number[] {
    return this.connections.flatMap(c => c.close === null ? [] : [c.close.code])
  }

  /** The last live event received, if any. */
  get last (): Received | undefined {
    return this.events.at(-1)
  }

  /** Stops reconnecting and drops the socket (teardown). */
  stop (): void {
    this.#stopped = true
    this.#socket?.terminate()
    this.#reject(new Error('stopped'))
  }

  async #run (): Promise<void> {
    const deadline = Date.now() + this.#options.deadlineMs
    while (!this.#stopped) {
      if (Date.now() > deadline) {
        this.#reject(new Error(`no close 1000 within ${this.#options.deadlineMs} ms; closes ${JSON.stringify(this.closeCodes)}, ${this.ids.length} ids`))
        return
      }
      const code = await this.#connectOnce()
      if (code === 1000) {
        this.#resolve()
        return
      }
      if (this.#stopped) return
      const backoff = this.#options.backoffMs
      await sleep(backoff + Math.random() * backoff)
    }
  }

  /** One connection, until it closes; returns the close code, or null if the handshake failed. */
  async #connectOnce (): Promise<number | null> {
    const urls = this.#options.urls
    const base = urls[(this.#options.start + this.#attempt++) % urls.length] as string
    const lastId = this.#lastId
    const token = await mintToken({ tenantId: this.#options.tenantId })
    const query: Record<string, string> = { token }
    if (lastId !== undefined) query.last_id = lastId
    const socket = new WebSocket(liveUrl(base, this.#options.tenantId, this.#options.jobId, query))
    this.#socket = socket
    return new Promise(resolve => {
      let connection: Connection | null = null
      socket.once('open', () => {
        connection = { url: base, lastId, close: null }
        this.connections.push(connection)
      })
      socket.once('unexpected-response', (req, res) => {
        this.failures.push({ url: base, error: `status ${res.statusCode ?? '?'}` })
        // Once the response has arrived, destroying the request does not always end in a 'close'
        // of the socket: the attempt is over here.
        res.resume()
        req.destroy()
        resolve(null)
      })
      socket.on('error', err => {
        if (connection === null) this.failures.push({ url: base, error: err.message })
      })
      socket.on('message', data => {
        let message: Received
        try { message = JSON.parse(data.toString()) as Received } catch { return }
        if (message.type === 'connected') {
          this.snapshots.push(message)
          // Nothing seen yet: resume from where the snapshot stands (no history yet: from the start).
          const at = message.data?.last_id
          if (this.#lastId === undefined) this.#lastId = typeof at === 'string' ? at : '0-0'
          return
        }
        if (typeof message.id !== 'string') return
        this.ids.push(message.id)
        this.events.push(message)
        this.#lastId = message.id
      })
      socket.once('close', (code, reason) => {
        if (connection !== null) connection.close = { code, reason: reason.toString() }
        resolve(connection === null ? null : code)
      })
    })
  }
}
