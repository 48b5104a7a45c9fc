/**
 * A plain WebSocket client that records every message and the close.
 */
import WebSocket, { type ClientOptions } from 'ws'
import { livePath } from '@training-live/events'

export interface Received {
  type: string
  id?: string
  progress?: number
  data?: Record<string, unknown>
  [key: string]: unknown
}

export class LiveClient {
  readonly socket: WebSocket
  readonly messages: Received[] = []
  readonly raw: string[] = []
  closed: { code: number, reason: string } | null = null
  readonly opened: Promise<void>
  readonly closedPromise: Promise<{ code: number, reason: string }>
  #waiters: Array<() => void> = []

  constructor (url: string, options: ClientOptions & { protocols?: string[] } = {}) {
    const { protocols, ...rest } = options
    this.socket = new WebSocket(url, protocols, rest)
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve())
      this.socket.once('error', reject)
      this.socket.once('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (c: Buffer) => { body += c.toString() })
        res.on('end', () => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode, body })))
      })
    })
    this.opened.catch(() => {})
    this.socket.on('message', (data) => {
      const text = data.toString()
      this.raw.push(text)
      this.messages.push(JSON.parse(text) as Received)
      this.#wake()
    })
    this.closedPromise = new Promise(resolve => {
      this.socket.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() }
        this.#wake()
        resolve(this.closed)
      })
    })
  }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  /** Waits until `predicate` holds over the messages received so far. */
  async waitFor (predicate: (messages: Received[]) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this.messages)) {
      if (this.closed !== null && !predicate(this.messages)) {
        throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before ${what}; got ${JSON.stringify(this.messages.map(m => m.type))}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map(m => [m.type, m.progress]))}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return this.messages
  }

  /** Live event messages (everything with an id). */
  get events (): Received[] {
    return this.messages.filter(m => typeof m.id === 'string')
  }

  close (): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate()
  }
}

export function liveUrl (base: string, tenantId: string, jobId: string, query: Record<string, string> = {}): string {
  const qs = new URLSearchParams(query).toString()
  return `${base}${livePath(tenantId, jobId)}${qs === '' ? '' : `?${qs}`}`
}
