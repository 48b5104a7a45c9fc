/**
 * Reconnect delays: capped exponential back-off with full jitter (a delay
 * drawn uniformly between 0 and the cap), so that the clients a restart
 * dropped all at once do not come back all at once.
 */
import { WatchError } from './watch-error.ts'

export interface BackoffOptions {
  /** The cap of the first retry's delay (default 500 ms). */
  initialMs?: number
  /** The largest delay, also the bound of a server's Retry-After (default 30 s). */
  maxMs?: number
  /** How much the cap grows with each failed attempt (default 2). */
  factor?: number
}

export type Backoff = Required<BackoffOptions>

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, factor: 2 }

/** The options with their defaults, checked. */
export function resolveBackoff (options: BackoffOptions = {}): Backoff {
  const b = { ...DEFAULT_BACKOFF, ...options }
  if (!(b.initialMs > 0 && Number.isFinite(b.initialMs))) throw invalid(`backoff.initialMs must be a positive number of ms, not ${b.initialMs}`)
  if (!(b.maxMs >= b.initialMs && Number.isFinite(b.maxMs))) throw invalid(`backoff.maxMs must be a number of ms, at least initialMs, not ${b.maxMs}`)
  if (!(b.factor >= 1 && Number.isFinite(b.factor))) throw invalid(`backoff.factor must be a number of at least 1, not ${b.factor}`)
  return b
}

function invalid (message: string): WatchError {
  return new WatchError('INVALID_OPTIONS', message)
}

/** The cap of the delay before retry number `attempt` (0 for the first retry). */
export function backoffCap (attempt: number, backoff: Backoff): number {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** attempt)
}

/** The delay before retry number `attempt`: anywhere from 0 to its cap. `random` is in [0, 1). */
export function backoffDelay (attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCap(attempt, backoff))
}

/**
 * A Retry-After header in ms: delay-seconds or an HTTP date (RFC 9110);
 * undefined when absent or unreadable.
 */
export function retryAfterMs (header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // Every HTTP date names its month; Date.parse alone would take "-3" for a year.
  const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
