/**
 * One WebSocket attempt, whatever the implementation: the browser's, Node
 * 22's, or `ws` in Node. They share the DOM-style events used here; `ws`
 * also tells why a handshake was refused ('unexpected-response'), which
 * the others keep to themselves (their refusal is a close 1006 before open).
 */

/** What the client needs of a WebSocket; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  addEventListener(type: 'open', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number, reason: string }) => void): void
  addEventListener(type: 'error', listener: (event: unknown) => void): void
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** The part of Node's http.IncomingMessage read from a refused handshake. */
interface RefusalResponse {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  setEncoding(encoding: 'utf8'): unknown
  on(event: 'data', listener: (chunk: string) => void): unknown
  on(event: 'end' | 'close' | 'error', listener: () => void): unknown
}

/** `ws`'s extra event, found by duck typing so that nothing Node-only is imported. */
interface NodeWebSocket {
  on(event: 'unexpected-response', listener: (request: unknown, response: RefusalResponse) => void): unknown
}

/** A refused handshake, as far as the implementation tells. */
export interface Refusal {
  status: number
  /** The Retry-After header, when present. */
  retryAfter?: string
  /** The `code` of the JSON body, e.g. GATEWAY_TOKEN_EXPIRED. */
  code?: string
}

export interface SocketEnd {
  /** Whether the socket had opened. */
  opened: boolean
  code: number
  reason: string
  /** Set when `ws` saw the handshake refused. */
  refusal?: Refusal
  /** Node's code for a connection that failed (ECONNREFUSED, ENOTFOUND, …), when the implementation tells it. */
  errorCode?: string
}

export interface SocketHandlers {
  open: () => void
  message: (text: string) => void
  /** Called once, when the socket ended on its own (not after stop()). */
  end: (end: SocketEnd) => void
}

export interface SocketAttempt {
  /** Closes the socket and silences it: no handler is called any more. */
  stop: () => void
}

/** A refusal body is a short JSON object; more than this is not read. */
const MAX_BODY = 4096

function header (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * The code of the error behind an 'error' event: `ws` passes the Node error
 * (its `code`), undici's WebSocket may wrap it as a `cause`; a browser's
 * event carries none.
 */
function errorCodeOf (event: unknown): string | undefined {
  const error = (event as { error?: { code?: unknown, cause?: { code?: unknown } } } | null)?.error
  const code = error?.code ?? error?.cause?.code
  return typeof code === 'string' && code !== '' ? code : undefined
}

function bodyCode (body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}

/** Opens a socket; throws what the constructor throws. */
export function openSocket (WebSocket: WebSocketConstructor, url: string, protocols: string[], handlers: SocketHandlers): SocketAttempt {
  const socket = new WebSocket(url, protocols)
  let opened = false
  let stopped = false
  let refusal: Refusal | undefined
  let errorCode: string | undefined

  socket.addEventListener('open', () => {
    if (stopped) return
    opened = true
    handlers.open()
  })
  socket.addEventListener('message', event => {
    // Every server message is a JSON text frame.
    if (!stopped && typeof event.data === 'string') handlers.message(event.data)
  })
  // The close that follows an error ends the attempt; the error only says why. (Listening also keeps `ws` from throwing.)
  // The first code counts: closing a refused handshake makes `ws` report an error of its own after it.
  socket.addEventListener('error', event => { errorCode ??= errorCodeOf(event) })
  socket.addEventListener('close', event => {
    if (stopped) return
    stopped = true
    handlers.end({
      opened,
      code: event.code,
      reason: event.reason,
      ...(refusal === undefined ? {} : { refusal }),
      ...(errorCode === undefined ? {} : { errorCode })
    })
  })

  const node = socket as Partial<NodeWebSocket>
  if (typeof node.on === 'function') {
    // With a listener here, `ws` leaves the refused request to us: read the short body, then close,
    // which makes `ws` emit the close (1006) that ends the attempt.
    node.on('unexpected-response', (_request, response) => {
      let body = ''
      let finished = false
      const finish = (): void => {
        if (finished) return
        finished = true
        refusal = { status: response.statusCode ?? 0 }
        const retryAfter = header(response.headers['retry-after'])
        if (retryAfter !== undefined) refusal.retryAfter = retryAfter
        const code = bodyCode(body)
        if (code !== undefined) refusal.code = code
        socket.close()
      }
      response.setEncoding('utf8')
      response.on('data', chunk => { if (body.length < MAX_BODY) body += chunk })
      response.on('end', finish)
      response.on('close', finish)
      response.on('error', finish)
    })
  }

  return {
    stop () {
      stopped = true
      socket.close(1000, 'client closed')
    }
  }
}
