/**
 * The gateway's side of one link to a training replica (docs/internals.md,
 * The link): one WebSocket carrying every session this gateway routes to
 * that replica. It reconnects with capped back-off while the gateway runs;
 * when it drops, each of its sessions is closed with 1011 (1012 when the
 * replica drains) so their clients resume with `last_id`.
 */
import WebSocket from 'ws'
import { CloseCode } from '@training-live/events'
import {
  FrameType, LINK_PATH, LINK_VERSION, LINK_VERSION_HEADER, LinkFrameError, decodeFrame, encodeClient, encodeClose, encodeOpen,
  retryDelay, type SessionMeta
} from '@training-live/service-kit'
import { ClientSession, type SessionHooks, type SessionLimits } from './client-session.ts'

export type OpenResult =
  | { kind: 'accepted', session: ClientSession }
  | { kind: 'refused', status: number, retryAfter: number, body: Buffer }
  | { kind: 'failed', reason: string }

export interface LinkOptions {
  secret: string
  connectTimeoutMs: number
  /** Pings the link this often; a link that has not answered the previous ping is dropped. */
  heartbeatMs: number
  limits: SessionLimits
  hooks: SessionHooks
  onState: (open: boolean, base: URL) => void
  /** Sessions closed because the link dropped; `draining` when the replica said it restarts (1012), which is not a loss. */
  onLost: (sessions: number, draining: boolean) => void
  onBadFrame: (reason: string) => void
}

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5000

interface Opening {
  resolve: (result: OpenResult) => void
  session: ClientSession
  timer: NodeJS.Timeout
}

export class Link {
  readonly base: URL
  readonly #url: URL
  readonly #o: LinkOptions
  readonly #sessions = new Map<number, ClientSession>()
  readonly #channels = new Map<number, Set<ClientSession>>()
  readonly #openings = new Map<number, Opening>()
  #socket: WebSocket | null = null
  #open = false
  #stopped = false
  #attempt = 0
  #nextSession = 1
  #reconnectTimer: NodeJS.Timeout | null = null
  #heartbeat: NodeJS.Timeout | null = null

  constructor (base: URL, o: LinkOptions) {
    this.base = base
    this.#o = o
    const url = new URL(LINK_PATH, base)
    url.protocol = base.protocol === 'https:' || base.protocol === 'wss:' ? 'wss:' : 'ws:'
    this.#url = url
  }

  get open (): boolean {
    return this.#open
  }

  connect (): void {
    if (this.#stopped || this.#socket !== null) return
    const socket = new WebSocket(this.#url, {
      headers: { authorization: `Bearer ${this.#o.secret}`, [LINK_VERSION_HEADER]: String(LINK_VERSION) },
      handshakeTimeout: this.#o.connectTimeoutMs,
      perMessageDeflate: false,
      // The payloads come from our own training service and go to clients unchanged: the clients
      // check their UTF-8, so the gateway does not do it a second time.
      skipUTF8Validation: true,
      maxPayload: 0
    })
    this.#socket = socket
    let alive = true
    socket.on('pong', () => { alive = true })
    socket.once('open', () => {
      this.#open = true
      this.#attempt = 0
      this.#o.onState(true, this.base)
      this.#heartbeat = setInterval(() => {
        if (!alive) { socket.terminate(); return }
        alive = false
        socket.ping()
      }, this.#o.heartbeatMs)
      this.#heartbeat.unref()
    })
    socket.on('message', (data: Buffer) => this.#receive(data))
    socket.once('close', (code: number) => this.#closed(socket, code))
    socket.on('error', () => {})
    socket.once('unexpected-response', (req, res) => {
      res.resume()
      req.destroy()
    })
  }

  /** Opens a session for a client; resolves once the replica accepted or refused it, or the link failed. */
  openSession (meta: SessionMeta): Promise<OpenResult> {
    const socket = this.#socket
    if (!this.#open || socket === null) return Promise.resolve({ kind: 'failed', reason: 'link not open' })
    const id = this.#nextSession
    this.#nextSession = this.#nextSession >= 0xffffffff ? 1 : this.#nextSession + 1
    const session = new ClientSession(id, this.#o.limits, this.#o.hooks)
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.#openings.delete(id)
        this.#sessions.delete(id)
        // The replica may still accept it: tell it the client is gone.
        this.#send(encodeClose(id, CloseCode.GoingAway, 'open timed out'))
        resolve({ kind: 'failed', reason: 'open timed out' })
      }, this.#o.connectTimeoutMs)
      this.#openings.set(id, { resolve, session, timer })
      this.#sessions.set(id, session)
      this.#send(encodeOpen(id, meta))
    })
  }

  /** The client of `session` sent a message: the replica answers it (pings, or a refusal of anything else). */
  clientMessage (session: ClientSession, payload: Buffer): void {
    this.#send(encodeClient(session.id, payload))
  }

  /** The client of `session` is gone (or was never upgraded). */
  endSession (session: ClientSession, code: number): void {
    if (!this.#forget(session)) return
    this.#send(encodeClose(session.id, code >= 1000 && code <= 4999 ? code : CloseCode.GoingAway, ''))
  }

  /** No more reconnecting; closes the link (the gateway is shutting down). */
  stop (): void {
    this.#stopped = true
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer)
    this.#socket?.close(CloseCode.GoingAway, 'gateway shutting down')
  }

  #send (frame: Buffer): void {
    const socket = this.#socket
    if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(frame, { binary: true })
  }

  #receive (data: Buffer): void {
    let frame
    try { frame = decodeFrame(data) } catch (err) {
      this.#o.onBadFrame(err instanceof LinkFrameError ? err.message : 'undecodable frame')
      return
    }
    switch (frame.type) {
      case FrameType.Publish: {
        const sessions = this.#channels.get(frame.channel)
        if (sessions === undefined) return
        for (const session of sessions) session.publish(frame.payload, frame.id, frame.terminal)
        return
      }
      case FrameType.Send:
        this.#sessions.get(frame.session)?.send(frame.payload, frame.id)
        return
      case FrameType.Accept: {
        const opening = this.#settle(frame.session)
        if (opening === undefined) return
        const session = opening.session
        session.channel = frame.channel
        let sessions = this.#channels.get(frame.channel)
        if (sessions === undefined) this.#channels.set(frame.channel, sessions = new Set())
        sessions.add(session)
        opening.resolve({ kind: 'accepted', session })
        return
      }
      case FrameType.Refuse: {
        const opening = this.#settle(frame.session)
        if (opening === undefined) return
        this.#sessions.delete(frame.session)
        opening.resolve({ kind: 'refused', status: frame.status, retryAfter: frame.retryAfter, body: frame.body })
        return
      }
      case FrameType.Live:
        this.#sessions.get(frame.session)?.goLive(frame.lastId)
        return
      case FrameType.Close: {
        const session = this.#sessions.get(frame.session)
        if (session === undefined) return
        this.#forget(session)
        session.close(frame.code, frame.reason)
        return
      }
      default:
        this.#o.onBadFrame(`frame type ${frame.type} is not sent by a replica`)
    }
  }

  #settle (id: number): Opening | undefined {
    const opening = this.#openings.get(id)
    if (opening === undefined) return undefined
    clearTimeout(opening.timer)
    this.#openings.delete(id)
    return opening
  }

  #forget (session: ClientSession): boolean {
    if (!this.#sessions.delete(session.id)) return false
    const sessions = this.#channels.get(session.channel)
    if (sessions !== undefined) {
      sessions.delete(session)
      if (sessions.size === 0) this.#channels.delete(session.channel)
    }
    return true
  }

  #closed (socket: WebSocket, code: number): void {
    if (this.#socket !== socket) return
    this.#socket = null
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#heartbeat = null
    const wasOpen = this.#open
    this.#open = false
    if (wasOpen) this.#o.onState(false, this.base)
    for (const [id, opening] of this.#openings) {
      clearTimeout(opening.timer)
      opening.resolve({ kind: 'failed', reason: 'link lost' })
      this.#openings.delete(id)
    }
    // A draining replica says so (1012); anything else is a lost upstream (1011). Either way, resume.
    const closeCode = code === CloseCode.ServiceRestart ? CloseCode.ServiceRestart : CloseCode.UpstreamLost
    const lost = [...this.#sessions.values()]
    this.#sessions.clear()
    this.#channels.clear()
    if (lost.length > 0) this.#o.onLost(lost.length, closeCode === CloseCode.ServiceRestart)
    for (const session of lost) session.close(closeCode, closeCode === CloseCode.ServiceRestart ? 'service restart' : 'upstream lost')
    if (this.#stopped) return
    const delay = retryDelay(this.#attempt++, RECONNECT_MIN_MS, RECONNECT_MAX_MS)
    this.#reconnectTimer = setTimeout(() => { this.#reconnectTimer = null; this.connect() }, delay)
    this.#reconnectTimer.unref()
  }
}
