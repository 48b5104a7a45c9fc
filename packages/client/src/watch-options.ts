/** The options watchJob() refuses at once, and where it finds a WebSocket. */
import type { WatchOptions } from './job-watch.ts'
import type { WebSocketConstructor } from './socket.ts'
import { WatchError } from './watch-error.ts'

export const DEFAULT_OPEN_TIMEOUT_MS = 15_000

export function checkOptions (options: WatchOptions): void {
  for (const key of ['tenantId', 'jobId'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new WatchError('INVALID_OPTIONS', `${key} must be a non-empty string`)
  }
  if (typeof options.getToken !== 'function') throw new WatchError('INVALID_OPTIONS', 'getToken must be a function returning the token (or a promise of it)')
  const timeout = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS
  if (!(timeout > 0 && Number.isFinite(timeout))) throw new WatchError('INVALID_OPTIONS', `openTimeoutMs must be a positive number of ms, not ${timeout}`)
}

export function webSocketOf (options: WatchOptions): WebSocketConstructor {
  const found = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof found !== 'function') {
    throw new WatchError('NO_WEBSOCKET', 'no WebSocket: this runtime has no global WebSocket (Node 20 has none); pass one, e.g. `import WebSocket from \'ws\'` and watchJob({ ..., WebSocket })')
  }
  return found
}
