/**
 * One client's live socket. Until the snapshot and history have been sent
 * it buffers live messages, then sends only those after the last id it
 * sent: no gap and no duplicate at the switch from history to live.
 */
import type { WebSocket } from 'ws'
import { CloseCode, MessageType } from '@training-live/events'
import { terminateAfterGrace } from '@training-live/service-kit'
import { isAfter, peekMessage, type LiveData, type LiveSink } from './live-hub.ts'

export interface LiveConnectionLimits {
  maxSendBufferBytes: number
}

export type CutReason = 'slow_client' | 'job_finished' | 'token_expired'

const PONG = JSON.stringify({ type: MessageType.Pong })

export class LiveConnection implements LiveSink {
  readonly socket: WebSocket
  readonly #limits: LiveConnectionLimits
  readonly #onCut: (reason: CutReason) => void
  readonly #onSent: () => void
  #pending: Array<{ raw: LiveData, id: string, terminal: boolean }> | null = []
  #pendingPongs = 0
  #lastId: string | null = null
  #closed = false
  #started = false
  #held = false
  #resumes = 0

  constructor (socket: WebSocket, limits: LiveConnectionLimits, hooks: { onCut: (reason: CutReason) => void, onSent: () => void }) {
    this.socket = socket
    this.#limits = limits
    this.#onCut = hooks.onCut
    this.#onSent = hooks.onSent
  }

  get live (): boolean {
    return this.#pending === null
  }

  /** Id of the last event sent, or null. */
  get lastId (): string | null {
    return this.#lastId
  }

  /** True once the snapshot (and history) went out. */
  get started (): boolean {
    return this.#started
  }

  /** Buffers live messages instead of sending them, until resume() (also across start()). */
  hold (): void {
    if (this.#closed) return
    this.#held = true
    this.#pending ??= []
  }

  /**
   * After hold(): sends what the history holds after the last id sent, then the messages held
   * meanwhile. Resolves once it is done (or superseded by a later resume, or closed).
   */
  async resume (missed: Array<{ raw: string, id: string }>): Promise<void> {
    if (this.#closed || !this.#started) return
    const generation = ++this.#resumes
    // Live messages keep being held while the missed ones go out, paced by the client.
    const current = await this.#replay(missed, () => generation === this.#resumes)
    if (!current || this.#closed) return
    this.#held = false
    this.#flushPending()
  }

  push (raw: LiveData, id: string, terminal: boolean): void {
    if (this.#pending !== null) {
      this.#pending.push({ raw, id, terminal })
      return
    }
    if (!isAfter(id, this.#lastId)) return
    this.#send(raw, id, terminal)
  }

  pong (): void {
    if (this.#pending !== null) this.#pendingPongs++
    else this.#sendRaw(PONG)
  }

  /**
   * Sends the snapshot and history, then switches to live. `lastId` is where the snapshot/history
   * stand. Resolves once the history is out (it is paced by how fast the client reads).
   */
  async start (snapshot: string, history: Array<{ raw: string, id: string }>, lastId: string | null, finished: boolean): Promise<void> {
    if (this.#closed) return
    this.#started = true
    this.#sendRaw(snapshot)
    await this.#replay(history, () => true)
    if (this.#closed) return
    if (lastId !== null && isAfter(lastId, this.#lastId)) this.#lastId = lastId
    for (; this.#pendingPongs > 0; this.#pendingPongs--) this.#sendRaw(PONG)
    if (finished) {
      this.close(CloseCode.JobFinished, 'job finished', 'job_finished')
      return
    }
    // Held (the subscriber is reconnecting): keep buffering until resume().
    if (this.#held) return
    this.#flushPending()
  }

  close (code: number, reason: string, cut?: CutReason): void {
    if (this.#closed) return
    this.#closed = true
    this.#pending = null
    if (cut !== undefined) this.#onCut(cut)
    this.socket.close(code, reason)
  }

  /**
   * Sends stored messages after the last id sent, in order. Above half the send-buffer bound it
   * waits until the socket has flushed, so a long history (a resume after a long absence) goes
   * out at the client's pace instead of counting as a slow client. Returns false if `current()`
   * turned false meanwhile (a later replay took over).
   */
  async #replay (entries: Array<{ raw: string, id: string }>, current: () => boolean): Promise<boolean> {
    for (const entry of entries) {
      if (this.#closed || !current()) return false
      if (!isAfter(entry.id, this.#lastId)) continue
      const terminal = peekMessage(entry.raw)?.terminal ?? false
      if (this.socket.bufferedAmount > this.#limits.maxSendBufferBytes / 2) {
        this.#lastId = entry.id
        await new Promise<void>(resolve => {
          const done = (): void => { this.socket.off('close', done); resolve() }
          this.socket.on('close', done)
          this.socket.send(entry.raw, done)
        })
        this.#onSent()
        if (terminal) this.close(CloseCode.JobFinished, 'job finished', 'job_finished')
      } else {
        this.#send(entry.raw, entry.id, terminal)
      }
    }
    return !this.#closed && current()
  }

  #flushPending (): void {
    const buffered = this.#pending ?? []
    this.#pending = null
    for (const m of buffered) this.push(m.raw, m.id, m.terminal)
  }

  #send (raw: LiveData, id: string, terminal: boolean): void {
    this.#sendRaw(raw)
    this.#lastId = id
    if (terminal) this.close(CloseCode.JobFinished, 'job finished', 'job_finished')
  }

  #sendRaw (raw: LiveData): void {
    if (this.#closed) return
    if (this.socket.bufferedAmount > this.#limits.maxSendBufferBytes) {
      // A client that does not read must not grow this process's memory or slow the others.
      this.close(CloseCode.TryAgainLater, 'client too slow', 'slow_client')
      terminateAfterGrace(this.socket)
      return
    }
    // Bytes from Redis are a text frame's payload as they are (UTF-8 JSON).
    this.socket.send(raw, { binary: false })
    this.#onSent()
  }
}
