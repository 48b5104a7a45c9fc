/**
 * One client's live socket. Until the snapshot and history have been sent
 * it buffers live messages, then sends only those after the last id it
 * sent: no gap and no duplicate at the switch from history to live.
 */
import type { WebSocket } from 'ws'
import { CloseCode, MessageType } from '@training-live/events'
import { isAfter, peekMessage, type LiveSink } from './live-hub.ts'

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
  #pending: Array<{ raw: string, id: string, terminal: boolean }> | null = []
  #pendingPongs = 0
  #lastId: string | null = null
  #closed = false
  #started = false
  #held = false

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

  /** After hold(): sends what the history holds after the last id sent, then the messages held meanwhile. */
  resume (missed: Array<{ raw: string, id: string }>): void {
    if (this.#closed || !this.#started) return
    this.#held = false
    const buffered = this.#pending ?? []
    this.#pending = null
    for (const m of missed) this.push(m.raw, m.id, peekMessage(m.raw)?.terminal ?? false)
    for (const m of buffered) this.push(m.raw, m.id, m.terminal)
  }

  push (raw: string, id: string, terminal: boolean): void {
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

  /** Sends the snapshot and history, then switches to live. `lastId` is where the snapshot/history stand. */
  start (snapshot: string, history: Array<{ raw: string, id: string }>, lastId: string | null, finished: boolean): void {
    if (this.#closed) return
    this.#started = true
    this.#sendRaw(snapshot)
    this.#lastId = lastId
    for (const entry of history) {
      this.#sendRaw(entry.raw)
      this.#lastId = entry.id
    }
    for (; this.#pendingPongs > 0; this.#pendingPongs--) this.#sendRaw(PONG)
    if (finished) {
      this.close(CloseCode.JobFinished, 'job finished', 'job_finished')
      return
    }
    // Held (the subscriber is reconnecting): keep buffering until resume().
    if (this.#held) return
    const buffered = this.#pending ?? []
    this.#pending = null
    for (const m of buffered) this.push(m.raw, m.id, m.terminal)
  }

  close (code: number, reason: string, cut?: CutReason): void {
    if (this.#closed) return
    this.#closed = true
    this.#pending = null
    if (cut !== undefined) this.#onCut(cut)
    this.socket.close(code, reason)
  }

  #send (raw: string, id: string, terminal: boolean): void {
    this.#sendRaw(raw)
    this.#lastId = id
    if (terminal) this.close(CloseCode.JobFinished, 'job finished', 'job_finished')
  }

  #sendRaw (raw: string): void {
    if (this.#closed) return
    if (this.socket.bufferedAmount > this.#limits.maxSendBufferBytes) {
      // A client that does not read must not grow this process's memory or slow the others.
      this.close(CloseCode.TryAgainLater, 'client too slow', 'slow_client')
      const socket = this.socket
      setTimeout(() => socket.terminate(), 1000).unref()
      return
    }
    this.socket.send(raw)
    this.#onSent()
  }
}
