/**
 * A retry's reason in a few words, for people: what a terminal or a page
 * shows while the watch cannot get through ("connection refused",
 * "HTTP 503 (Retry-After 2 s)", "closed 1011 upstream lost").
 */
import type { RetryReason } from './job-watch.ts'

/** Node's error codes for a connection that did not get through. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection reset',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host'
}

/** Close codes an empty close reason is named by. */
const CLOSE_NAMES: Record<number, string> = {
  1001: 'going away',
  1006: 'connection lost',
  1011: 'server error',
  1012: 'service restart',
  1013: 'try again later',
  4001: 'token expired'
}

/** Seconds for people: `2 s`, `0.5 s`, `30 s`. */
export function formatSeconds (ms: number): string {
  const s = ms / 1000
  return `${s >= 10 || Number.isInteger(s) ? Math.round(s) : Math.round(s * 10) / 10} s`
}

function errorText (error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function describeRetryReason (reason: RetryReason): string {
  switch (reason.kind) {
    case 'close': {
      const said = reason.reason === '' ? CLOSE_NAMES[reason.code] : reason.reason
      return said === undefined ? `closed ${reason.code}` : `closed ${reason.code} ${reason.reason === '' ? `(${said})` : said}`
    }
    case 'refused': {
      const status = reason.status === 0 ? 'an HTTP response without a status' : `HTTP ${reason.status}`
      const code = reason.serverCode === undefined ? '' : ` ${reason.serverCode}`
      const wait = reason.retryAfterMs === undefined ? '' : ` (Retry-After ${formatSeconds(reason.retryAfterMs)})`
      return `${status}${code}${wait}`
    }
    case 'unreachable':
      // A browser tells a page nothing of why: no code, whatever happened.
      if (reason.errorCode === undefined) return 'cannot connect'
      return NETWORK_ERRORS[reason.errorCode] ?? `cannot connect (${reason.errorCode})`
    case 'timeout':
      return 'timed out'
    case 'token':
      return `getToken failed: ${errorText(reason.error)}`
    case 'socket':
      return `cannot open a WebSocket: ${errorText(reason.error)}`
  }
}
