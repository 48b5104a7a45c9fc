/**
 * The page's overall connection, from its jobs' connections. Jobs that
 * finished are left out: their sockets close on purpose.
 */
import { SEPARATOR, secondsLeft, type ConnectionShown } from './format.ts'

export type OverallConnection = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'unreachable' | 'offline'

export const OVERALL_TEXT: Record<OverallConnection, string> = {
  idle: 'Idle (no job running)',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  unreachable: 'Can\'t reach the server',
  offline: 'Offline'
}

/** The indicator's words, with the countdown to the soonest retry while the page is in trouble and one is ahead. */
export function overallText (overall: OverallConnection, retryInMs: number | null): string {
  if (retryInMs === null) return OVERALL_TEXT[overall]
  if (retryInMs <= 0) return overall === 'unreachable' ? `${OVERALL_TEXT.unreachable}${SEPARATOR}retrying now` : OVERALL_TEXT[overall]
  if (overall === 'unreachable') return `${OVERALL_TEXT.unreachable}${SEPARATOR}retrying in ${secondsLeft(retryInMs)}`
  if (overall === 'reconnecting') return `Reconnecting in ${secondsLeft(retryInMs)}`
  return OVERALL_TEXT[overall]
}

export function overallConnection (jobs: ConnectionShown[], browserOnline = true): OverallConnection {
  if (!browserOnline) return 'offline'
  const active = jobs.filter(c => c !== 'closed')
  if (active.length === 0) return 'idle'
  // The worst state wins: one job that cannot reach the gateway is worth telling.
  if (active.includes('unreachable')) return 'unreachable'
  if (active.includes('reconnecting')) return 'reconnecting'
  if (active.includes('offline')) return 'offline'
  // A job just added is still connecting while the others are live: the page is live.
  return active.includes('live') ? 'live' : 'connecting'
}

/** Whether a change is worth announcing: trouble, and the end of trouble; not jobs coming and going. */
export function worthAnnouncing (previous: OverallConnection, next: OverallConnection): boolean {
  const trouble = (c: OverallConnection): boolean => c === 'reconnecting' || c === 'unreachable' || c === 'offline'
  return trouble(next) || (trouble(previous) && next === 'live')
}
