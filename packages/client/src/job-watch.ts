/** The public shape of a watch: its options, its events, and what it exposes. */
import type { EventEmitter } from 'eventemitter3'
import type { JobView, ServerMessage } from '@training-live/events'
import type { BackoffOptions } from './backoff.ts'
import type { WebSocketConstructor } from './socket.ts'
import type { WatchError } from './watch-error.ts'

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface WatchOptions {
  /** The gateway, e.g. `wss://live.example.com`; http(s) is taken as ws(s). */
  baseUrl?: string
  /** The job's full live URL instead of `baseUrl`. */
  url?: string
  tenantId: string
  jobId: string
  /** Called before every connection, so a token that expired is replaced. */
  getToken: () => string | Promise<string>
  /** The WebSocket constructor (Node 20: `ws`); default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor
  backoff?: BackoffOptions
  /** Aborting it closes the watch, as close() does. */
  signal?: AbortSignal
  /** A socket not open within this many ms is dropped and retried (default 15 s). */
  openTimeoutMs?: number
}

/** Why the watch is about to connect again. */
export type RetryReason =
  /** An open socket closed with a code that calls for another attempt (1001, 1006, 1011, 1012, 1013, 4001, …). */
  | { kind: 'close', code: number, reason: string }
  /** The handshake was refused with an HTTP status (Node's `ws` only); `retryAfterMs` from its Retry-After header. */
  | { kind: 'refused', status: number, serverCode?: string, retryAfterMs?: number }
  /**
   * The socket closed before it opened, no status known: the server is unreachable, or (in a browser) refused the handshake.
   * `errorCode` is Node's code for the failure (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, …) when the WebSocket tells it (`ws` does, browsers do not).
   */
  | { kind: 'unreachable', code: number, errorCode?: string }
  /** The socket did not open within openTimeoutMs. */
  | { kind: 'timeout' }
  /** getToken threw or rejected. */
  | { kind: 'token', error: unknown }
  /** The WebSocket constructor threw. */
  | { kind: 'socket', error: unknown }

export interface RetryInfo {
  /** Failed attempts in a row so far (it resets once a connection gets its snapshot). */
  attempt: number
  /** How long until the next attempt. */
  delayMs: number
  reason: RetryReason
  /** The reason in a few words, for people: `connection refused`, `HTTP 503 (Retry-After 2 s)`, `closed 1011 upstream lost`, `cannot connect` (a browser). */
  message: string
}

export interface JobWatchEvents {
  /** Every server message received: snapshots, live events, pongs and errors. */
  message: (message: ServerMessage) => void
  /** After every snapshot, and whenever a live event changed the view. */
  state: (view: JobView) => void
  connection: (state: ConnectionState) => void
  /** The job completed or failed (the server closed with 1000). */
  end: (view: JobView) => void
  /** It gave up; nothing more will happen. */
  error: (err: WatchError) => void
  /** It is about to connect again. */
  retry: (info: RetryInfo) => void
}

export interface JobWatch extends AsyncIterable<ServerMessage> {
  /** The job as the latest snapshot says, advanced by every live message since. */
  readonly state: JobView
  readonly connection: ConnectionState
  /** The final view once the job ended or close() was called; rejects with the WatchError if it gave up. */
  readonly done: Promise<JobView>
  on<E extends keyof JobWatchEvents>(event: E, listener: EventEmitter.EventListener<JobWatchEvents, E>): this
  once<E extends keyof JobWatchEvents>(event: E, listener: EventEmitter.EventListener<JobWatchEvents, E>): this
  off<E extends keyof JobWatchEvents>(event: E, listener?: EventEmitter.EventListener<JobWatchEvents, E>): this
  /** Stops: closes the socket and clears every timer; `done` resolves with the view as it stands. */
  close(): void
}
