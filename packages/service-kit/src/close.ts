import type { WebSocket } from 'ws'

/** How long a peer being cut has to finish the close handshake. */
export const CLOSE_GRACE_MS = 1000

/**
 * After `close()` on a peer being cut: drops the connection if the close
 * handshake has not finished in time. A peer that does not read (a slow or
 * flooding client) never answers it, and ws would otherwise wait 30 s.
 */
export function terminateAfterGrace (socket: WebSocket, ms = CLOSE_GRACE_MS): void {
  setTimeout(() => socket.terminate(), ms).unref()
}
