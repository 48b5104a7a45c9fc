/** The watcher's line for each failed attempt, so that a stack that is down does not look like a job that is quiet. */
import type { RetryInfo } from '../job-watch.ts'
import { formatSeconds } from '../retry-reason.ts'

export function retryLine (url: string, info: RetryInfo): string {
  const when = info.delayMs === 0 ? 'now' : `in ${formatSeconds(info.delayMs)}`
  switch (info.reason.kind) {
    case 'close':
      return `lost the connection to ${url}: ${info.message}; reconnecting ${when}`
    case 'refused':
      return `${url} refused the connection: ${info.message}; retrying ${when}`
    case 'token':
      return `${info.message}; retrying ${when}`
    default:
      return `cannot reach ${url}: ${info.message}; retrying ${when}`
  }
}
