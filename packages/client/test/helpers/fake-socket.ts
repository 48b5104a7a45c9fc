/**
 * Fake WebSockets for the SDK's unit tests: a browser-like one (DOM events
 * only) and a `ws`-like one that can also refuse a handshake with an HTTP
 * status. The test plays the server: open, send, close, refuse.
 */
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises'
import type { ServerMessage } from '@training-live/events'
import type { WebSocketConstructor, WebSocketLike } from '../../src/socket.ts'

type Listener = (event: never) => void

export class FakeSocket implements WebSocketLike {
  readonly url: string
  readonly protocols: string[]
  /** What the client passed to close(), if it did. */
  closedByClient: { code?: number, reason?: string } | null = null
  readyState = 0
  readonly #listeners = new Map<string, Listener[]>()

  constructor (url: string, protocols?: string | string[]) {
    this.url = url
    this.protocols = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols]
  }

  /** The `last_id` the client resumes from, if any. */
  get lastId (): string | null {
    return new URL(this.url).searchParams.get('last_id')
  }

  /** The token, carried as the second subprotocol after `bearer`. */
  get token (): string | undefined {
    return this.protocols[0] === 'bearer' ? this.protocols[1] : undefined
  }

  addEventListener (type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener])
  }

  send (): void {}

  close (code?: number, reason?: string): void {
    this.closedByClient = { code, reason }
    if (this.readyState >= 2) return
    const wasConnecting = this.readyState === 0
    this.readyState = 2
    // Like ws and browsers: the close event comes later; a socket that never opened closes with 1006.
    queueMicrotask(() => this.#closed(wasConnecting ? 1006 : (code ?? 1005), reason ?? ''))
  }

  // ---- the server's side ----

  open (): void {
    this.readyState = 1
    this.dispatch('open', {})
  }

  deliver (message: ServerMessage | string | Uint8Array): void {
    this.dispatch('message', { data: typeof message === 'string' || message instanceof Uint8Array ? message : JSON.stringify(message) })
  }

  /** The server (or the network) closes the socket. */
  serverClose (code: number, reason = ''): void {
    this.readyState = 2
    this.#closed(code, reason)
  }

  dispatch (type: string, event: unknown): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (e: unknown) => void)(event)
  }

  #closed (code: number, reason: string): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.dispatch('error', {})
    this.dispatch('close', { code, reason })
  }
}

type ResponseListener = (chunk?: string) => void

/** A `ws`-like socket: it also emits 'unexpected-response' for a refused handshake. */
export class NodeFakeSocket extends FakeSocket {
  #onRefusal: ((request: unknown, response: unknown) => void) | null = null

  on (event: string, listener: (request: unknown, response: unknown) => void): this {
    if (event === 'unexpected-response') this.#onRefusal = listener
    return this
  }

  /** The server answers the handshake with an HTTP status; the client reads the body, then closes. */
  refuse (status: number | undefined, options: { headers?: Record<string, string | string[]>, body?: string, chunks?: string[] } = {}): void {
    const listeners = new Map<string, ResponseListener[]>()
    const response = {
      statusCode: status,
      headers: options.headers ?? {},
      setEncoding: () => response,
      on: (event: string, listener: ResponseListener) => {
        listeners.set(event, [...(listeners.get(event) ?? []), listener])
        return response
      }
    }
    this.#onRefusal?.({}, response)
    const emit = (event: string, chunk?: string): void => { for (const l of listeners.get(event) ?? []) l(chunk) }
    for (const chunk of options.chunks ?? [options.body ?? JSON.stringify({ statusCode: status, code: `GATEWAY_${status}`, error: 'x', message: 'x' })]) emit('data', chunk)
    emit('end')
    emit('close')
  }
}

export interface FakeServer<S extends FakeSocket> {
  WebSocket: WebSocketConstructor
  /** Every socket the client created, in order. */
  sockets: S[]
  /** Waits until the client has created its n-th socket (1-based) and returns it. */
  socket: (n: number) => Promise<S>
}

/** A WebSocket class of its own for one test, recording its sockets. */
export function fakeServer (kind: 'browser'): FakeServer<FakeSocket>
export function fakeServer (kind: 'node'): FakeServer<NodeFakeSocket>
export function fakeServer (kind: 'browser' | 'node'): FakeServer<FakeSocket> {
  const sockets: FakeSocket[] = []
  const Base = kind === 'node' ? NodeFakeSocket : FakeSocket
  class Recorded extends Base {
    constructor (url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  return {
    WebSocket: Recorded,
    sockets,
    socket: async (n: number) => {
      const deadline = Date.now() + 2000
      while (sockets.length < n && Date.now() < deadline) await sleep(1)
      const socket = sockets[n - 1]
      if (socket === undefined) throw new Error(`the client did not open socket ${n} (it opened ${sockets.length})`)
      return socket
    }
  }
}

/** Lets pending microtasks and immediates run. */
export async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await tick()
}
