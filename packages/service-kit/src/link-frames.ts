/**
 * The frames of the link between a gateway and a training replica: one
 * binary WebSocket message each, a one-byte type, a small fixed header,
 * and then the client's bytes as the training service wrote them, which
 * the gateway passes on without decoding (docs/internals.md, The link).
 */

/** Sent in the link's handshake (`x-link-version`); a replica refuses any other with 400. */
export const LINK_VERSION = 1
export const LINK_PATH = '/internal/v1/link'
export const LINK_VERSION_HEADER = 'x-link-version'

export const FrameType = {
  /** gateway → training: a client asks to open a session (its metadata as JSON). */
  Open: 1,
  /** training → gateway: the session is accepted; the gateway upgrades the client. */
  Accept: 2,
  /** training → gateway: the session is refused with an HTTP status and a JSON body. */
  Refuse: 3,
  /** training → gateway: one message for one session (its snapshot, a replayed event, a pong). */
  Send: 4,
  /** training → gateway: the session follows its channel live from `lastId` on. */
  Live: 5,
  /** training → gateway: one live message of a channel, once per link, for every session following it. */
  Publish: 6,
  /** either way: close a session (training → gateway: with this code; gateway → training: the client is gone). */
  Close: 7,
  /** gateway → training: a message the client sent on its socket. */
  Client: 8
} as const
export type FrameType = typeof FrameType[keyof typeof FrameType]

/** What a gateway tells a replica about a session it opens. */
export interface SessionMeta {
  /** `job` (one job's stream); later kinds (a tenant's feed) add values here. */
  kind: 'job'
  tenant_id: string
  job_id: string
  last_id?: string | undefined
  /** The client's token: the replica verifies it again. */
  token: string
  request_id?: string
}

export type Frame =
  | { type: typeof FrameType.Open, session: number, meta: SessionMeta }
  | { type: typeof FrameType.Accept, session: number, channel: number }
  | { type: typeof FrameType.Refuse, session: number, status: number, retryAfter: number, body: Buffer }
  | { type: typeof FrameType.Send, session: number, id: string, payload: Buffer }
  | { type: typeof FrameType.Live, session: number, lastId: string }
  | { type: typeof FrameType.Publish, channel: number, id: string, terminal: boolean, payload: Buffer }
  | { type: typeof FrameType.Close, session: number, code: number, reason: string }
  | { type: typeof FrameType.Client, session: number, payload: Buffer }

export class LinkFrameError extends Error {
  readonly code = 'LINK_BAD_FRAME'
}

/** Strings in headers are short (ids, channel names, reasons): a length byte, then latin1/UTF-8 bytes. */
const MAX_SHORT = 255

function shortBytes (value: string, encoding: BufferEncoding): Buffer {
  const bytes = Buffer.from(value, encoding)
  if (bytes.length > MAX_SHORT) throw new LinkFrameError(`header string longer than ${MAX_SHORT} bytes`)
  return bytes
}

export function encodeOpen (session: number, meta: SessionMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta))
  const out = Buffer.allocUnsafe(5 + json.length)
  out[0] = FrameType.Open
  out.writeUInt32BE(session, 1)
  json.copy(out, 5)
  return out
}

/** `channel` numbers the session's channel on this link (the replica picks it; sessions of one job share it). */
export function encodeAccept (session: number, channel: number): Buffer {
  const out = Buffer.allocUnsafe(9)
  out[0] = FrameType.Accept
  out.writeUInt32BE(session, 1)
  out.writeUInt32BE(channel, 5)
  return out
}

export function encodeRefuse (session: number, status: number, retryAfter: number, body: string): Buffer {
  const bytes = Buffer.from(body)
  const out = Buffer.allocUnsafe(9 + bytes.length)
  out[0] = FrameType.Refuse
  out.writeUInt32BE(session, 1)
  out.writeUInt16BE(status, 5)
  out.writeUInt16BE(retryAfter, 7)
  bytes.copy(out, 9)
  return out
}

/** `payload` is a message's JSON text, as a string or as the bytes Redis delivered. */
export function encodeSend (session: number, id: string, payload: Buffer | string): Buffer {
  const idBytes = shortBytes(id, 'latin1')
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const out = Buffer.allocUnsafe(6 + idBytes.length + size)
  out[0] = FrameType.Send
  out.writeUInt32BE(session, 1)
  out[5] = idBytes.length
  idBytes.copy(out, 6)
  if (typeof payload === 'string') out.write(payload, 6 + idBytes.length)
  else payload.copy(out, 6 + idBytes.length)
  return out
}

export function encodeLive (session: number, lastId: string): Buffer {
  const idBytes = shortBytes(lastId, 'latin1')
  const out = Buffer.allocUnsafe(6 + idBytes.length)
  out[0] = FrameType.Live
  out.writeUInt32BE(session, 1)
  out[5] = idBytes.length
  idBytes.copy(out, 6)
  return out
}

export function encodePublish (channel: number, id: string, terminal: boolean, payload: Buffer | string): Buffer {
  const idBytes = shortBytes(id, 'latin1')
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const head = 7 + idBytes.length
  const out = Buffer.allocUnsafe(head + size)
  out[0] = FrameType.Publish
  out[1] = terminal ? 1 : 0
  out.writeUInt32BE(channel, 2)
  out[6] = idBytes.length
  idBytes.copy(out, 7)
  if (typeof payload === 'string') out.write(payload, head)
  else payload.copy(out, head)
  return out
}

export function encodeClose (session: number, code: number, reason: string): Buffer {
  const bytes = shortBytes(reason, 'utf8')
  const out = Buffer.allocUnsafe(7 + bytes.length)
  out[0] = FrameType.Close
  out.writeUInt32BE(session, 1)
  out.writeUInt16BE(code, 5)
  bytes.copy(out, 7)
  return out
}

export function encodeClient (session: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length)
  out[0] = FrameType.Client
  out.writeUInt32BE(session, 1)
  payload.copy(out, 5)
  return out
}

function need (frame: Buffer, size: number): void {
  if (frame.length < size) throw new LinkFrameError('frame shorter than its header')
}

/** Decodes one frame; payloads are views into `frame` (not copies). Throws LinkFrameError on a malformed frame. */
export function decodeFrame (frame: Buffer): Frame {
  need(frame, 1)
  const type = frame[0]
  switch (type) {
    case FrameType.Open: {
      need(frame, 5)
      let meta: SessionMeta
      try { meta = JSON.parse(frame.toString('utf8', 5)) as SessionMeta } catch { throw new LinkFrameError('session metadata is not JSON') }
      if (meta === null || typeof meta !== 'object') throw new LinkFrameError('session metadata is not an object')
      return { type, session: frame.readUInt32BE(1), meta }
    }
    case FrameType.Accept:
      need(frame, 9)
      return { type, session: frame.readUInt32BE(1), channel: frame.readUInt32BE(5) }
    case FrameType.Refuse:
      need(frame, 9)
      return { type, session: frame.readUInt32BE(1), status: frame.readUInt16BE(5), retryAfter: frame.readUInt16BE(7), body: frame.subarray(9) }
    case FrameType.Send: {
      need(frame, 6)
      const end = 6 + (frame[5] as number)
      need(frame, end)
      return { type, session: frame.readUInt32BE(1), id: frame.toString('latin1', 6, end), payload: frame.subarray(end) }
    }
    case FrameType.Live: {
      need(frame, 6)
      const end = 6 + (frame[5] as number)
      need(frame, end)
      return { type, session: frame.readUInt32BE(1), lastId: frame.toString('latin1', 6, end) }
    }
    case FrameType.Publish: {
      need(frame, 7)
      const idEnd = 7 + (frame[6] as number)
      need(frame, idEnd)
      return { type, terminal: frame[1] === 1, channel: frame.readUInt32BE(2), id: frame.toString('latin1', 7, idEnd), payload: frame.subarray(idEnd) }
    }
    case FrameType.Close:
      need(frame, 7)
      return { type, session: frame.readUInt32BE(1), code: frame.readUInt16BE(5), reason: frame.toString('utf8', 7) }
    case FrameType.Client:
      need(frame, 5)
      return { type, session: frame.readUInt32BE(1), payload: frame.subarray(5) }
    default:
      throw new LinkFrameError(`unknown frame type ${String(type)}`)
  }
}
