/**
 * Pipes frames both ways, unchanged and unparsed, with backpressure: a
 * side whose peer has too much unsent data stops reading until it drains.
 */
import WebSocket, { type RawData } from 'ws'
import { CloseCode } from '@training-live/events'
import { terminateAfterGrace } from '@training-live/service-kit'
import type { Upstream } from './upstream.ts'

export interface ProxyOptions {
  /** Stop reading the other side above this many unsent bytes; resume below half. */
  highWaterMark: number
  /** A client whose unsent data stays above the high-water mark this long is cut with 1013. */
  slowClientTimeoutMs: number
  onFrame?: (direction: 'upstream' | 'downstream') => void
  onUpstreamLost?: () => void
  onSlowClient?: () => void
}

/** Close codes that may be sent in a close frame (RFC 6455 §7.4). */
export function isSendableCode (code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

/**
 * Sends what `from` receives to `to`. Above the high-water mark it stops reading `from`, so the
 * backlog waits at the sender (the training service bounds it per socket) rather than here.
 * `onStalled` runs if `to` has not drained below half of it within `stallMs`.
 */
function relay (from: WebSocket, to: WebSocket, options: ProxyOptions, direction: 'upstream' | 'downstream', stall?: { ms: number, onStalled: () => void }) {
  let paused = false
  let stallTimer: NodeJS.Timeout | null = null
  const low = options.highWaterMark / 2
  const drained = () => {
    if (!paused || to.bufferedAmount >= low) return
    paused = false
    if (stallTimer !== null) { clearTimeout(stallTimer); stallTimer = null }
    from.resume()
  }
  to.once('close', () => { if (stallTimer !== null) clearTimeout(stallTimer) })
  const text = { binary: false }
  const binary = { binary: true }
  return (data: RawData, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return
    // Only a frame that may take the backlog over the low mark needs to report its flush: the last
    // such one to flush finds the backlog drained. The others go without a callback.
    const size = Array.isArray(data) ? low : (data as Buffer).byteLength
    to.send(data, isBinary ? binary : text, to.bufferedAmount + size > low ? drained : undefined)
    options.onFrame?.(direction)
    if (!paused && to.bufferedAmount > options.highWaterMark) {
      paused = true
      from.pause()
      if (stall !== undefined) stallTimer = setTimeout(stall.onStalled, stall.ms)
    }
  }
}

export function pipeSockets (client: WebSocket, upstream: Upstream, options: ProxyOptions): void {
  const server = upstream.socket
  // A paused upstream does not read, so it would not even see the training service cut this
  // client: the gateway cuts a client that stopped reading itself.
  const toClient = relay(server, client, options, 'downstream', {
    ms: options.slowClientTimeoutMs,
    onStalled: () => {
      if (client.readyState !== WebSocket.OPEN) return
      options.onSlowClient?.()
      client.close(CloseCode.TryAgainLater, 'client too slow')
      // Its close frame waits behind what it does not read.
      terminateAfterGrace(client)
    }
  })
  server.removeAllListeners('message')
  for (const frame of upstream.early) toClient(frame.data, frame.isBinary)
  upstream.early.length = 0
  server.on('message', toClient)
  client.on('message', relay(client, server, options, 'upstream'))

  client.on('close', (code, reason) => {
    if (server.readyState === WebSocket.OPEN || server.readyState === WebSocket.CONNECTING) {
      if (isSendableCode(code)) server.close(code, reason)
      else server.close(CloseCode.GoingAway, 'client gone')
    }
  })
  server.on('close', (code, reason) => {
    if (client.readyState !== WebSocket.OPEN) return
    if (isSendableCode(code)) {
      client.close(code, reason)
    } else {
      // 1005/1006: the replica vanished without a close frame; the client should resume elsewhere.
      options.onUpstreamLost?.()
      client.close(CloseCode.UpstreamLost, 'upstream lost')
    }
  })
  server.on('error', () => {})
  client.on('error', () => {})
}
