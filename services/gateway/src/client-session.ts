/**
 * One client's session on a link, as the gateway holds it. The gateway
 * reads only frame headers: a message's bytes go to the client socket as
 * the training service wrote them. Ids in the headers let it skip what the
 * client already has, so the switch from a session's opening (snapshot and
 * history) to its channel's live messages has no gap and no duplicate.
 */
import WebSocket from 'ws'
import { CloseCode, compareStreamIds } from '@training-live/events'
import { terminateAfterGrace } from '@training-live/service-kit'

export interface SessionLimits {
  /** Above this many unsent bytes in the socket, messages wait in the session's own queue and the slow-client timer runs. */
  highWaterMark: number
  /** A client whose unsent data stays above the high-water mark this long is cut with 1013. */
  slowClientTimeoutMs: number
  /** A client with more live messages than this waiting for it is cut at once: memory stays bounded whatever the link carries. */
  maxBufferedBytes: number
}

export interface SessionHooks {
  onSlowClient: () => void
  onSent: () => void
}

type Pending = { payload: Buffer, id: string, terminal: boolean }

const TEXT = { binary: false }

/**
 * States: opening (the replica sends the snapshot and history, `send`), then live (`goLive`: the
 * channel's messages, `publish`, after the last id the client has). Messages go to the socket while
 * it keeps up; above the high-water mark they wait in order in `#queue` and go out as it drains, so a
 * long history goes at the client's pace, and a client that stops reading is cut after
 * `slowClientTimeoutMs`, or at once when its live backlog passes `maxBufferedBytes`.
 */
export class ClientSession {
  readonly id: number
  channel = 0
  #client: WebSocket | null = null
  #queue: Buffer[] = []
  #queuedBytes = 0
  /** The channel's messages that came before `Live`, filtered by id when it comes. */
  #early: Pending[] | null = null
  #live = false
  #lastId: string | null = null
  /** Closed for the gateway (no more messages); the close frame may still wait behind the queue. */
  #closed = false
  #closeAfterQueue: { code: number, reason: string } | null = null
  #stallTimer: NodeJS.Timeout | null = null
  readonly #limits: SessionLimits
  readonly #hooks: SessionHooks
  readonly #drained = () => { this.#flush() }

  constructor (id: number, limits: SessionLimits, hooks: SessionHooks) {
    this.id = id
    this.#limits = limits
    this.#hooks = hooks
  }

  get closed (): boolean {
    return this.#closed
  }

  get client (): WebSocket | null {
    return this.#client
  }

  /** The upgraded client: what arrived for it meanwhile goes out first, in order. */
  attach (client: WebSocket): void {
    this.#client = client
    this.#flush()
  }

  /** A message of this session's opening (`id` empty for the snapshot and replies). */
  send (payload: Buffer, id: string): void {
    if (this.#closed) return
    if (id !== '') {
      if (!this.#isNew(id)) return
      this.#lastId = id
    }
    this.#enqueue(payload)
  }

  /** From `lastId` on, the channel's messages are this session's. */
  goLive (lastId: string): void {
    if (this.#closed) return
    if (lastId !== '' && this.#isNew(lastId)) this.#lastId = lastId
    this.#live = true
    const early = this.#early ?? []
    this.#early = null
    for (const m of early) this.publish(m.payload, m.id, m.terminal)
  }

  /** One live message of the channel. */
  publish (payload: Buffer, id: string, terminal: boolean): void {
    if (this.#closed) return
    if (!this.#live) {
      (this.#early ??= []).push({ payload, id, terminal })
      return
    }
    if (!this.#isNew(id)) return
    this.#lastId = id
    this.#enqueue(payload)
    if (this.#queuedBytes > this.#limits.maxBufferedBytes) { this.#cutSlow(); return }
    if (terminal) this.close(CloseCode.JobFinished, 'job finished')
  }

  /** Closes the client once what was sent before has gone out. */
  close (code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#early = null
    if (this.#queue.length > 0 || this.#client === null) { this.#closeAfterQueue = { code, reason }; return }
    this.#closeNow(code, reason)
  }

  #closeNow (code: number, reason: string): void {
    this.#closeAfterQueue = null
    const client = this.#client
    if (client !== null && client.readyState === WebSocket.OPEN) client.close(code, reason)
    // A client that is not reading keeps its stall timer: it is cut (and counted) if it never reads its close.
    if (this.#stallTimer === null) return
    if (client === null || client.bufferedAmount <= this.#limits.highWaterMark) this.#clearStall()
  }

  #enqueue (payload: Buffer): void {
    const client = this.#client
    if (client !== null && this.#queue.length === 0 && client.bufferedAmount <= this.#limits.highWaterMark) {
      this.#write(client, payload)
      return
    }
    this.#queue.push(payload)
    this.#queuedBytes += payload.length
  }

  #flush (): void {
    const client = this.#client
    if (client === null) return
    if (client.bufferedAmount <= this.#limits.highWaterMark) this.#clearStall()
    let i = 0
    for (; i < this.#queue.length && client.bufferedAmount <= this.#limits.highWaterMark; i++) {
      const payload = this.#queue[i] as Buffer
      this.#queuedBytes -= payload.length
      this.#write(client, payload)
    }
    if (i > 0) this.#queue = this.#queue.slice(i)
    if (this.#queue.length === 0 && this.#closeAfterQueue !== null) this.#closeNow(this.#closeAfterQueue.code, this.#closeAfterQueue.reason)
  }

  #isNew (id: string): boolean {
    return this.#lastId === null || compareStreamIds(id, this.#lastId) > 0
  }

  #write (client: WebSocket, payload: Buffer): void {
    if (client.readyState !== WebSocket.OPEN) return
    // Only a write that takes the socket over the mark needs to report its flush: when it does,
    // what waits in the queue goes next.
    const over = client.bufferedAmount + payload.length > this.#limits.highWaterMark
    client.send(payload, TEXT, over ? this.#drained : undefined)
    this.#hooks.onSent()
    if (over && this.#stallTimer === null) {
      this.#stallTimer = setTimeout(() => {
        this.#stallTimer = null
        if (client.bufferedAmount > this.#limits.highWaterMark) this.#cutSlow()
      }, this.#limits.slowClientTimeoutMs)
      this.#stallTimer.unref()
    }
  }

  #clearStall (): void {
    if (this.#stallTimer !== null) clearTimeout(this.#stallTimer)
    this.#stallTimer = null
  }

  /** Never pauses the link for one client: a client that does not read is cut, and its backlog dropped. */
  #cutSlow (): void {
    const client = this.#client
    this.#hooks.onSlowClient()
    this.#clearStall()
    this.#queue = []
    this.#queuedBytes = 0
    this.#closeAfterQueue = null
    this.#closed = true
    this.#early = null
    if (client === null) return
    if (client.readyState === WebSocket.OPEN) client.close(CloseCode.TryAgainLater, 'client too slow')
    // Its close frame waits behind what it does not read.
    terminateAfterGrace(client)
  }
}
