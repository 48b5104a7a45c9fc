/**
 * The training side of one gateway's link (docs/internals.md, The link):
 * many client sessions on one WebSocket. Each job the gateway follows is
 * one channel on the link, joined to the hub once, so each live message
 * crosses the link once however many of the gateway's clients watch it; the
 * gateway writes it to each of them. A session's opening (snapshot, then the
 * history after its `last_id`) goes to that session alone, then a `Live`
 * frame tells the gateway from which id on the channel's messages are its.
 */
import WebSocket from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import { CloseCode, ID_PATTERN, MessageType, STREAM_ID_PATTERN } from '@training-live/events'
import {
  FrameType, LinkFrameError, decodeFrame, encodeAccept, encodeClose, encodeLive, encodePublish, encodeRefuse, encodeSend,
  terminateAfterGrace, type Principal, type SessionMeta
} from '@training-live/service-kit'
import type { LiveCore, Resumable } from './live-core.ts'
import { isAfter, peekMessage, type LiveData } from './live-hub.ts'

const PONG = JSON.stringify({ type: MessageType.Pong })
const ID = new RegExp(ID_PATTERN)
const STREAM_ID = new RegExp(STREAM_ID_PATTERN)

/** A refusal as the HTTP answer the gateway gives its client. */
export interface Refusal {
  status: number
  retryAfter: number
  code: string
  message: string
}

export interface LinkEndpointOptions {
  core: LiveCore
  log: FastifyBaseLogger
  /** The token check of the live route (401/403 as typed errors). */
  verify: (token: string | undefined, tenantId: string) => Principal
  /** A reason to refuse every new session now (Redis or the broker away), or null. */
  unavailable: () => Refusal | null
  /** A link whose unsent data passes this many bytes is closed: its gateway does not keep up. */
  maxBufferedBytes: number
  badMessage: { code: string, message: string }
  onSessions: (delta: number) => void
  onPublish: () => void
  onSlowLink: () => void
}

interface Session {
  id: number
  channel: LinkChannel
  /** Pongs asked for before the snapshot went out, sent right after it. */
  pongs: number
  opened: boolean
  closed: boolean
}

/** One job followed over one link: joined to the hub once for all its sessions. */
class LinkChannel implements Resumable {
  readonly number: number
  readonly name: string
  readonly sessions = new Set<Session>()
  readonly joined: Promise<void>
  readonly #endpoint: LinkEndpoint
  #lastId: string | null = null
  #held: Array<{ raw: LiveData, id: string, terminal: boolean }> | null = null

  constructor (endpoint: LinkEndpoint, number: number, name: string) {
    this.#endpoint = endpoint
    this.number = number
    this.name = name
    this.joined = endpoint.core.hub.join(name, this)
  }

  /**
   * The last id published on the link. Sessions' openings are not counted: an opening read may
   * return an event that pub/sub has not delivered here yet, and the live sessions still need it.
   */
  get lastId (): string | null {
    return this.#lastId
  }

  /** Always: a channel is only followed once joined, and its sessions' openings cover what came before. */
  get started (): boolean {
    return true
  }

  push (raw: LiveData, id: string, terminal: boolean): void {
    if (this.#held !== null) { this.#held.push({ raw, id, terminal }); return }
    if (!isAfter(id, this.#lastId)) return
    this.#lastId = id
    this.#endpoint.publish(this.number, id, terminal, raw)
  }

  hold (): void {
    this.#held ??= []
  }

  resume (missed: Array<{ raw: string, id: string }>): void {
    const held = this.#held ?? []
    this.#held = null
    for (const m of missed) this.push(m.raw, m.id, peekMessage(m.raw)?.terminal ?? false)
    for (const m of held) this.push(m.raw, m.id, m.terminal)
  }

  close (code: number, reason: string): void {
    for (const session of [...this.sessions]) this.#endpoint.closeSession(session, code, reason)
  }
}

export class LinkEndpoint {
  readonly core: LiveCore
  readonly #socket: WebSocket
  readonly #o: LinkEndpointOptions
  readonly #sessions = new Map<number, Session>()
  readonly #channels = new Map<string, LinkChannel>()
  #nextChannel = 1
  #closed = false

  constructor (socket: WebSocket, o: LinkEndpointOptions) {
    this.#socket = socket
    this.#o = o
    this.core = o.core
    socket.on('message', (data, isBinary) => {
      if (!isBinary) { this.#fail('text frame on the link'); return }
      this.#receive(data as Buffer)
    })
    socket.on('close', () => this.#teardown())
    socket.on('error', () => {})
  }

  get sessions (): number {
    return this.#sessions.size
  }

  /** Closes the link; the gateway closes each of its sessions with the same code. */
  close (code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason)
    this.#teardown()
  }

  publish (channel: number, id: string, terminal: boolean, raw: LiveData): void {
    this.#write(encodePublish(channel, id, terminal, raw))
    this.#o.onPublish()
  }

  closeSession (session: Session, code: number, reason: string): void {
    if (session.closed) return
    this.#forget(session)
    this.#write(encodeClose(session.id, code, reason))
  }

  #receive (data: Buffer): void {
    let frame
    try { frame = decodeFrame(data) } catch (err) {
      this.#fail(err instanceof LinkFrameError ? err.message : 'undecodable frame')
      return
    }
    switch (frame.type) {
      case FrameType.Open: this.#open(frame.session, frame.meta); break
      case FrameType.Close: {
        const session = this.#sessions.get(frame.session)
        if (session !== undefined) this.#forget(session)
        break
      }
      case FrameType.Client: this.#client(frame.session, frame.payload); break
      default: this.#fail(`frame type ${frame.type} is not sent by a gateway`)
    }
  }

  #open (id: number, meta: SessionMeta): void {
    if (this.#sessions.has(id)) { this.#fail(`session ${id} opened twice`); return }
    const refusal = this.#check(meta)
    if (refusal !== null) {
      const body = { statusCode: refusal.status, code: refusal.code, error: refusal.status >= 500 ? 'Service Unavailable' : 'Refused', message: refusal.message }
      this.#write(encodeRefuse(id, refusal.status, refusal.retryAfter, JSON.stringify(body)))
      return
    }
    const lastId = meta.last_id ?? null
    const name = this.core.channel(meta.tenant_id, meta.job_id)
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      channel = new LinkChannel(this, this.#nextChannel++, name)
      this.#channels.set(name, channel)
      this.core.track(channel, meta.tenant_id, meta.job_id, channel.joined)
    }
    const session: Session = { id, channel, pongs: 0, opened: false, closed: false }
    channel.sessions.add(session)
    this.#sessions.set(id, session)
    this.#o.onSessions(1)
    this.#write(encodeAccept(id, channel.number))
    const open = channel
    void open.joined
      .then(() => this.core.open(meta.tenant_id, meta.job_id, lastId))
      .then(opening => {
        if (session.closed) return
        this.#write(encodeSend(id, '', opening.snapshot))
        session.opened = true
        for (; session.pongs > 0; session.pongs--) this.#write(encodeSend(id, '', PONG))
        for (const m of opening.history) this.#write(encodeSend(id, m.id, m.raw))
        if (opening.finished) this.closeSession(session, CloseCode.JobFinished, 'job finished')
        else this.#write(encodeLive(id, opening.lastId ?? lastId ?? ''))
      })
      .catch(err => {
        this.#o.log.error({ err, tenant_id: meta.tenant_id, job_id: meta.job_id }, 'could not open a link session')
        this.closeSession(session, CloseCode.UpstreamLost, 'state unavailable')
      })
  }

  /** The live route's checks, in its order: the request's shape, the token, then this replica's state. */
  #check (meta: SessionMeta): Refusal | null {
    if (meta.kind !== 'job' || typeof meta.tenant_id !== 'string' || !ID.test(meta.tenant_id) ||
        typeof meta.job_id !== 'string' || !ID.test(meta.job_id) ||
        (meta.last_id !== undefined && (typeof meta.last_id !== 'string' || !STREAM_ID.test(meta.last_id)))) {
      return { status: 400, retryAfter: 0, code: 'FST_ERR_VALIDATION', message: 'a path id or last_id is malformed' }
    }
    try {
      this.#o.verify(typeof meta.token === 'string' ? meta.token : undefined, meta.tenant_id)
    } catch (err) {
      const e = err as { statusCode?: number, code?: string, message: string }
      return { status: e.statusCode ?? 401, retryAfter: 0, code: e.code ?? 'UNAUTHORIZED', message: e.message }
    }
    return this.#o.unavailable()
  }

  #client (id: number, payload: Buffer): void {
    const session = this.#sessions.get(id)
    if (session === undefined) return
    let type: unknown
    try { type = (JSON.parse(payload.toString()) as { type?: unknown }).type } catch {}
    if (type === MessageType.Ping) {
      if (session.opened) this.#write(encodeSend(id, '', PONG))
      else session.pongs++
      return
    }
    this.#write(encodeSend(id, '', JSON.stringify({ type: MessageType.Error, ...this.#o.badMessage })))
  }

  #forget (session: Session): void {
    session.closed = true
    this.#sessions.delete(session.id)
    this.#o.onSessions(-1)
    const channel = session.channel
    channel.sessions.delete(session)
    if (channel.sessions.size === 0) this.#drop(channel)
  }

  #drop (channel: LinkChannel): void {
    this.#channels.delete(channel.name)
    this.core.untrack(channel)
    this.core.hub.leave(channel.name, channel)
  }

  #write (frame: Buffer): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return
    if (this.#socket.bufferedAmount > this.#o.maxBufferedBytes) {
      // The gateway reads the link slower than its jobs produce: cut it rather than grow this
      // process. Its clients are closed with 1011 and resume through a new link.
      this.#o.onSlowLink()
      this.#o.log.warn({ buffered: this.#socket.bufferedAmount }, 'gateway does not keep up with its link: closing it')
      this.close(CloseCode.TryAgainLater, 'link too slow')
      terminateAfterGrace(this.#socket)
      return
    }
    this.#socket.send(frame, { binary: true })
  }

  #fail (reason: string): void {
    this.#o.log.warn({ reason }, 'malformed link frame: closing the link')
    this.close(CloseCode.PolicyViolation, 'bad frame')
  }

  #teardown (): void {
    if (this.#closed) return
    this.#closed = true
    for (const session of this.#sessions.values()) {
      session.closed = true
      this.#o.onSessions(-1)
    }
    this.#sessions.clear()
    for (const channel of this.#channels.values()) {
      this.core.untrack(channel)
      this.core.hub.leave(channel.name, channel)
    }
    this.#channels.clear()
  }
}
