/**
 * What to do after a socket ends: the table of docs/protocol.md (close codes,
 * and the statuses of a refused handshake), as pure functions.
 */
import { CloseCode } from '@training-live/events'
import type { WatchErrorCode } from './watch-error.ts'

/** Wait before the next attempt: none, the back-off, or a number of ms the server asked for. */
export type Delay = 'now' | 'backoff' | number

export type NextStep =
  | { kind: 'end' }
  | { kind: 'give-up', code: WatchErrorCode }
  | { kind: 'retry', delay: Delay }

/** After a close of an open socket. */
export function afterClose (code: number): NextStep {
  switch (code) {
    case CloseCode.JobFinished:
      return { kind: 'end' }
    case CloseCode.TokenExpired:
      // A fresh token fixes it: no reason to wait.
      return { kind: 'retry', delay: 'now' }
    case CloseCode.PolicyViolation:
    case CloseCode.MessageTooBig:
      return { kind: 'give-up', code: 'POLICY' }
    default:
      // 1001, 1006, 1011, 1012, 1013, and whatever else a proxy may send: the server or the path
      // went away, and another attempt (perhaps through another replica) resumes where it stood.
      return { kind: 'retry', delay: 'backoff' }
  }
}

/**
 * After a handshake refused with an HTTP status (only Node's `ws` exposes it).
 * `retriedAuth`: the previous attempt was refused with 401 too, and this one
 * already carried a fresh token.
 */
export function afterRefusal (status: number, retryAfter: number | undefined, retriedAuth: boolean): NextStep {
  switch (status) {
    case 401:
      return retriedAuth ? { kind: 'give-up', code: 'AUTH' } : { kind: 'retry', delay: 'now' }
    case 403:
      return { kind: 'give-up', code: 'FORBIDDEN' }
    case 400:
      return { kind: 'give-up', code: 'BAD_REQUEST' }
    case 429:
    case 503:
      return { kind: 'retry', delay: retryAfter ?? 'backoff' }
    default:
      // A load balancer's 502 while gateways restart, and the like.
      return { kind: 'retry', delay: 'backoff' }
  }
}
