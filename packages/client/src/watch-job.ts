/**
 * watchJob(): one job's live state over a WebSocket that reconnects and
 * resumes on its own. The protocol's rules are in close-policy.ts; the view
 * is computed by @training-live/events' applyMessage, the same package the
 * server's progress rules live in.
 */
import { EventEmitter } from 'eventemitter3'
import {
  BEARER_SUBPROTOCOL, MessageType, applyMessage, compareStreamIds, initialJobView,
  type JobView, type ServerMessage
} from '@training-live/events'
import { backoffDelay, resolveBackoff, retryAfterMs, type Backoff } from './backoff.ts'
import { afterClose, afterRefusal, type Delay, type NextStep } from './close-policy.ts'
import type { ConnectionState, JobWatch, JobWatchEvents, RetryReason, WatchOptions } from './job-watch.ts'
import { resolveLiveUrl, withLastId } from './live-url.ts'
import { describeRetryReason } from './retry-reason.ts'
import { MessageStream } from './message-stream.ts'
import { openSocket, type SocketAttempt, type SocketEnd, type WebSocketConstructor } from './socket.ts'
import { WatchError, type WatchErrorCode } from './watch-error.ts'
import { DEFAULT_OPEN_TIMEOUT_MS, checkOptions, webSocketOf } from './watch-options.ts'

/** Starts watching a job. Throws a WatchError (INVALID_OPTIONS, NO_WEBSOCKET) when it cannot start. */
export function watchJob (options: WatchOptions): JobWatch {
  return new LiveJobWatch(options)
}

const GIVE_UP_MESSAGES: Record<WatchErrorCode, string> = {
  POLICY: 'the server closed the connection for a policy violation; reconnecting would repeat it',
  AUTH: 'the server refused the token twice in a row, a fresh one included',
  FORBIDDEN: 'the token does not grant access to this tenant',
  BAD_REQUEST: 'the server refused the request as malformed (tenant id, job id or last_id)',
  NO_WEBSOCKET: 'no WebSocket',
  INVALID_OPTIONS: 'invalid options'
}

function isServerMessage (value: unknown): value is ServerMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
}

class LiveJobWatch extends EventEmitter<JobWatchEvents> implements JobWatch {
  readonly done: Promise<JobView>
  readonly #url: string
  readonly #getToken: () => string | Promise<string>
  readonly #WebSocket: WebSocketConstructor
  readonly #backoff: Backoff
  readonly #openTimeoutMs: number
  readonly #signal: AbortSignal | undefined
  readonly #streams = new Set<MessageStream<ServerMessage>>()
  #view: JobView
  #connection: ConnectionState = 'connecting'
  /** Where the next connection resumes: the id of the last live event handled, or where the first snapshot stood. */
  #resumeFrom: string | undefined
  /** Failed attempts in a row, for the back-off. */
  #attempt = 0
  /** The last attempt was refused with 401; the one under way carries a fresh token. */
  #retriedAuth = false
  #socket: SocketAttempt | null = null
  #retryTimer: ReturnType<typeof setTimeout> | null = null
  #openTimer: ReturnType<typeof setTimeout> | null = null
  #finished = false
  #failure: WatchError | undefined
  #resolve!: (view: JobView) => void
  #reject!: (err: WatchError) => void

  constructor (options: WatchOptions) {
    super()
    checkOptions(options)
    this.#url = resolveLiveUrl(options)
    this.#backoff = resolveBackoff(options.backoff)
    this.#WebSocket = webSocketOf(options)
    this.#getToken = options.getToken
    this.#openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS
    this.#view = initialJobView(options.tenantId, options.jobId)
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    // Whoever does not await `done` still hears of a failure through 'error': no unhandled rejection.
    this.done.catch(() => {})
    this.#signal = options.signal
    if (this.#signal?.aborted === true) {
      this.close()
      return
    }
    this.#signal?.addEventListener('abort', this.#onAbort)
    void this.#connect()
  }

  get state (): JobView {
    return this.#view
  }

  get connection (): ConnectionState {
    return this.#connection
  }

  close (): void {
    this.#finish('close')
  }

  [Symbol.asyncIterator] (): AsyncIterator<ServerMessage> {
    const stream = new MessageStream<ServerMessage>(s => this.#streams.delete(s))
    if (this.#finished) stream.end(this.#failure)
    else this.#streams.add(stream)
    return stream
  }

  readonly #onAbort = (): void => this.close()

  async #connect (): Promise<void> {
    let token: string
    try {
      token = await this.#getToken()
    } catch (error) {
      if (!this.#finished) this.#retry('backoff', { kind: 'token', error })
      return
    }
    // Closed while the token was on its way.
    if (this.#finished) return
    const url = withLastId(this.#url, this.#resumeFrom)
    try {
      // The token as a subprotocol: out of the URL, so out of access logs, and browsers can send it.
      this.#socket = openSocket(this.#WebSocket, url, [BEARER_SUBPROTOCOL, token], {
        open: () => this.#onOpen(),
        message: text => this.#onMessage(text),
        end: end => this.#onEnd(end)
      })
    } catch (error) {
      this.#retry('backoff', { kind: 'socket', error })
      return
    }
    this.#openTimer = setTimeout(() => {
      this.#openTimer = null
      this.#socket?.stop()
      this.#socket = null
      this.#retry('backoff', { kind: 'timeout' })
    }, this.#openTimeoutMs)
  }

  #onOpen (): void {
    this.#clearOpenTimer()
    this.#retriedAuth = false
    this.#setConnection('open')
  }

  #onMessage (text: string): void {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return
    }
    if (!isServerMessage(message)) return
    if (message.type === MessageType.Connected) {
      // A snapshot: the connection works, so the next failure starts the back-off afresh.
      this.#attempt = 0
      const { last_id: lastId, recovered } = message.data
      // Resumed: the history from #resumeFrom follows. Otherwise (a first connection, or a
      // history that no longer reaches back) the snapshot stands for everything up to its last_id.
      if (recovered !== true) this.#resumeFrom = lastId ?? this.#resumeFrom ?? '0-0'
    } else if ('id' in message) {
      // Exactly once: never hand on an event already handled.
      if (this.#resumeFrom !== undefined && compareStreamIds(message.id, this.#resumeFrom) <= 0) return
      this.#resumeFrom = message.id
    }
    const view = applyMessage(this.#view, message)
    // A snapshot always tells the state afresh (the first one may equal the initial view); a live
    // event only when it changed it.
    const tell = view !== this.#view || message.type === MessageType.Connected
    this.#view = view
    for (const stream of this.#streams) stream.push(message)
    this.emit('message', message)
    // Unless a 'message' listener closed the watch.
    if (tell && !this.#finished) this.emit('state', view)
  }

  #onEnd (end: SocketEnd): void {
    this.#clearOpenTimer()
    this.#socket = null
    const retriedAuth = this.#retriedAuth
    this.#retriedAuth = false
    let next: NextStep
    let reason: RetryReason
    if (end.opened) {
      next = afterClose(end.code)
      reason = { kind: 'close', code: end.code, reason: end.reason }
    } else if (end.refusal !== undefined) {
      const { status, retryAfter, code } = end.refusal
      const waitMs = retryAfterMs(retryAfter)
      next = afterRefusal(status, waitMs, retriedAuth)
      reason = { kind: 'refused', status, ...(code === undefined ? {} : { serverCode: code }), ...(waitMs === undefined ? {} : { retryAfterMs: waitMs }) }
      if (status === 401) this.#retriedAuth = true
    } else {
      // What a browser shows of a refused handshake too: retry with back-off and a fresh token.
      next = { kind: 'retry', delay: 'backoff' }
      reason = { kind: 'unreachable', code: end.code, ...(end.errorCode === undefined ? {} : { errorCode: end.errorCode }) }
    }
    if (next.kind === 'end') this.#finish('end')
    else if (next.kind === 'give-up') this.#giveUp(next.code, end)
    else this.#retry(next.delay, reason)
  }

  #retry (delay: Delay, reason: RetryReason): void {
    let delayMs = 0
    if (delay === 'backoff') delayMs = backoffDelay(this.#attempt++, this.#backoff)
    else if (delay !== 'now') {
      // The server said when; not longer than the longest back-off, though.
      delayMs = Math.min(delay, this.#backoff.maxMs)
      this.#attempt++
    }
    // Until a first connection opened, it is still connecting.
    if (this.#connection === 'open') this.#setConnection('reconnecting')
    this.emit('retry', { attempt: this.#attempt, delayMs, reason, message: describeRetryReason(reason) })
    // A listener may have closed the watch.
    if (this.#finished) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      void this.#connect()
    }, delayMs)
  }

  #giveUp (code: WatchErrorCode, end: SocketEnd): void {
    const details = end.opened
      ? { closeCode: end.code }
      : { status: end.refusal?.status, ...(end.refusal?.code === undefined ? {} : { serverCode: end.refusal.code }) }
    const cause = end.opened
      ? `close ${end.code}${end.reason === '' ? '' : ` ${end.reason}`}`
      : `HTTP ${end.refusal?.status}${end.refusal?.code === undefined ? '' : ` ${end.refusal.code}`}`
    this.#finish(new WatchError(code, `${GIVE_UP_MESSAGES[code]} (${cause})`, details))
  }

  /** Ends the watch: the job ended, close() was called, or it gave up with an error. */
  #finish (how: 'end' | 'close' | WatchError): void {
    if (this.#finished) return
    this.#finished = true
    const error = how instanceof WatchError ? how : undefined
    this.#failure = error
    this.#clearOpenTimer()
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    this.#socket?.stop()
    this.#socket = null
    this.#signal?.removeEventListener('abort', this.#onAbort)
    const view = this.#view
    if (error === undefined) this.#resolve(view)
    else this.#reject(error)
    for (const stream of this.#streams) stream.end(error)
    this.#streams.clear()
    this.#setConnection('closed')
    if (error !== undefined) this.emit('error', error)
    else if (how === 'end') this.emit('end', view)
  }

  #clearOpenTimer (): void {
    if (this.#openTimer !== null) clearTimeout(this.#openTimer)
    this.#openTimer = null
  }

  /** Every call is a change: open follows connecting or reconnecting, reconnecting follows open, closed comes once. */
  #setConnection (state: ConnectionState): void {
    this.#connection = state
    this.emit('connection', state)
  }
}
