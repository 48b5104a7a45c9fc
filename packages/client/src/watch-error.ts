/** Why a watch gave up, or could not start. */
export type WatchErrorCode =
  /** Closed with 1008 or 1009: the server refused what this client sent; reconnecting would repeat it. */
  | 'POLICY'
  /** The handshake was refused with 401 twice in a row, with a fresh token each time. */
  | 'AUTH'
  /** The handshake was refused with 403: the token's tenant is not the job's. */
  | 'FORBIDDEN'
  /** The handshake was refused with 400: a malformed tenant id, job id or last_id. */
  | 'BAD_REQUEST'
  /** No WebSocket constructor given, and none global (Node 20: pass `ws`). */
  | 'NO_WEBSOCKET'
  /** An option is missing or out of range. */
  | 'INVALID_OPTIONS'

export interface WatchErrorDetails {
  /** The close code that ended the watch, when a close did. */
  closeCode?: number
  /** The HTTP status of the refused handshake, when one did. */
  status?: number
  /** The server's own error code from the refusal's body, e.g. `GATEWAY_TOKEN_EXPIRED`. */
  serverCode?: string
}

export class WatchError extends Error {
  readonly code: WatchErrorCode
  readonly closeCode: number | undefined
  readonly status: number | undefined
  readonly serverCode: string | undefined

  constructor (code: WatchErrorCode, message: string, details: WatchErrorDetails = {}) {
    super(message)
    this.name = 'WatchError'
    this.code = code
    this.closeCode = details.closeCode
    this.status = details.status
    this.serverCode = details.serverCode
  }
}
