/** How the page words statuses, connections and durations. */
import type { ConnectionState, JobView } from '@training-live/client'

export type JobStatus = JobView['status']

/**
 * A job's connection as shown: the client's state, a closed socket told apart by whether its job finished (closed) or not
 * (offline), and a retry after an attempt that did not get through (unreachable) told apart from one after a lost connection.
 */
export type ConnectionShown = 'connecting' | 'live' | 'reconnecting' | 'unreachable' | 'offline' | 'closed'

export const STATUS_TEXT: Record<JobStatus, { label: string, icon: string }> = {
  pending: { label: 'Pending', icon: '○' },
  running: { label: 'Running', icon: '●' },
  completed: { label: 'Completed', icon: '✓' },
  failed: { label: 'Failed', icon: '✕' }
}

/** Between a state and its countdown: bound to the word before it by a no-break space, so that no line starts with `·`. */
export const SEPARATOR = '\u00a0· '

export const CONNECTION_TEXT: Record<ConnectionShown, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  unreachable: `Offline${SEPARATOR}retrying now`,
  offline: 'Offline',
  closed: 'Closed'
}

/** Whole seconds until a retry, never 0 while one is still ahead: `4 s`, the unit kept on the number's line. */
export function secondsLeft (ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}\u00a0s`
}

/**
 * A card's connection in words that fit a card's row on a phone, with the countdown to the next attempt while one is
 * ahead: `Offline · retrying in 4 s`, `Reconnecting in 2 s`.
 */
export function connectionText (shown: ConnectionShown, retryInMs: number | null): string {
  if (retryInMs === null || retryInMs <= 0) return CONNECTION_TEXT[shown]
  if (shown === 'unreachable') return `Offline${SEPARATOR}retrying in ${secondsLeft(retryInMs)}`
  if (shown === 'reconnecting') return `Reconnecting in ${secondsLeft(retryInMs)}`
  return CONNECTION_TEXT[shown]
}

export function isFinished (status: JobStatus): boolean {
  return status === 'completed' || status === 'failed'
}

export function connectionShown (connection: ConnectionState, status: JobStatus): ConnectionShown {
  switch (connection) {
    case 'connecting': return 'connecting'
    case 'open': return 'live'
    case 'reconnecting': return 'reconnecting'
    case 'closed': return isFinished(status) ? 'closed' : 'offline'
  }
}

/** `0:42`, `12:05`, `1:02:03`. */
export function formatElapsed (ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

/** The same duration for a `<time datetime>`: `PT1H2M3S`. */
export function isoDuration (ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return `PT${h > 0 ? `${h}H` : ''}${m > 0 ? `${m}M` : ''}${s}S`
}

export function productsText (done: number, total: number | null): string {
  return total === null ? `${done} / ?` : `${done} / ${total}`
}
