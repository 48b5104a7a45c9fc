/**
 * Bounds against hostile or broken clients, shared by both services:
 * connections per process and per tenant (refused at the handshake),
 * inbound messages per socket (a token bucket), and the time a client may
 * take to send its HTTP request.
 */
import type { ServerOptions } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode } from '@training-live/events'
import type { LimitErrors } from './errors.ts'
import { terminateAfterGrace } from './close.ts'

export type AcquireResult = 'ok' | 'process' | 'tenant'

export interface ConnectionLimits {
  /** Connections this process holds at once, all tenants together. */
  maxConnections: number
  /** Connections one tenant holds at once in this process. */
  maxPerTenant: number
}

/** Counts the connections a process holds, in total and per tenant. */
export class ConnectionLimiter {
  readonly limits: ConnectionLimits
  readonly #tenants = new Map<string, number>()
  #total = 0

  constructor (limits: ConnectionLimits) {
    this.limits = limits
  }

  get total (): number {
    return this.#total
  }

  countOf (tenant: string): number {
    return this.#tenants.get(tenant) ?? 0
  }

  /**
   * Takes a slot for `tenant`, or says which limit is reached. The tenant's
   * limit is checked first: a tenant over its own quota is told so (429)
   * whatever the load of the process.
   */
  tryAcquire (tenant: string): AcquireResult {
    const held = this.#tenants.get(tenant) ?? 0
    if (held >= this.limits.maxPerTenant) return 'tenant'
    if (this.#total >= this.limits.maxConnections) return 'process'
    this.#tenants.set(tenant, held + 1)
    this.#total++
    return 'ok'
  }

  /** Gives back a slot taken with tryAcquire; a release without a matching acquire is ignored. */
  release (tenant: string): void {
    const held = this.#tenants.get(tenant)
    if (held === undefined) return
    if (held <= 1) this.#tenants.delete(tenant)
    else this.#tenants.set(tenant, held - 1)
    this.#total--
  }
}

/** Seconds a refused client is asked to wait (Retry-After) before it tries again: over a process' or a tenant's limit, or a dependency away. */
export const RETRY_AFTER_SECONDS = { process: 5, tenant: 30, unavailable: 2 } as const

/**
 * For the live route's onRequest hook, after authentication: takes a slot
 * for the request's tenant or throws the refusal (503 or 429, with
 * Retry-After). The slot is held until the TCP socket closes (an upgraded
 * WebSocket lives on it), or until the request is answered without an
 * upgrade (a later refusal, or a plain HTTP request), whichever is first.
 */
export function holdConnectionSlot (limiter: ConnectionLimiter, request: FastifyRequest, reply: FastifyReply, errors: LimitErrors): void {
  const tenant = request.principal?.tenant_id ?? ''
  const result = limiter.tryAcquire(tenant)
  if (result !== 'ok') {
    reply.header('retry-after', String(RETRY_AFTER_SECONDS[result]))
    throw result === 'tenant' ? new errors.TenantConnectionLimit() : new errors.TooManyConnections()
  }
  const socket = request.raw.socket as Socket | undefined
  const response = reply.raw
  let held = true
  // Holds neither the socket nor the response: after an upgrade the response never finishes,
  // and a closure on the socket that held it would keep it (and its request) for the connection's life.
  const release = () => {
    if (!held) return
    held = false
    limiter.release(tenant)
  }
  // The client may have gone while the token was checked: its 'close' has fired already or will not wait for us.
  if (socket === undefined || socket.destroyed) {
    release()
    return
  }
  socket.once('close', release)
  response.once('finish', release)
}

/** A token bucket: `rate` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  readonly rate: number
  readonly burst: number
  readonly #now: () => number
  #tokens: number
  #last: number

  constructor (rate: number, burst: number = rate, now: () => number = () => performance.now()) {
    this.rate = rate
    this.burst = burst
    this.#now = now
    this.#tokens = burst
    this.#last = now()
  }

  /** Takes one token if there is one. */
  take (): boolean {
    const now = this.#now()
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) * this.rate / 1000)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

export const MESSAGE_RATE_EXCEEDED = 'message rate exceeded'

/**
 * Bounds the messages a client sends on one socket to `ratePerSecond`
 * (burst equal to the rate). Returns `admit`, to call for every inbound
 * message: it answers false from the first message over the rate on, and
 * that first time calls `onExceeded`, stops reading the socket and closes
 * it with 1008 (terminated a second later if the client does not finish
 * the close handshake). `close` lets the caller close through its own
 * wrapper so that it stops sending too.
 */
export function inboundRateLimit (
  socket: WebSocket,
  ratePerSecond: number,
  onExceeded: () => void,
  close: (code: number, reason: string) => void = (code, reason) => socket.close(code, reason)
): () => boolean {
  const bucket = new TokenBucket(ratePerSecond)
  let exceeded = false
  return () => {
    if (exceeded) return false
    if (bucket.take()) return true
    exceeded = true
    onExceeded()
    // Frames already read are still emitted, but no more are read from a client being cut.
    socket.pause()
    close(CloseCode.PolicyViolation, MESSAGE_RATE_EXCEEDED)
    terminateAfterGrace(socket)
    return false
  }
}

/**
 * Fastify (and Node http) options that drop a client which opens a
 * connection but does not send a whole request in `ms`: an idle socket is
 * destroyed after `ms` (connectionTimeout), and one that trickles its
 * headers is cut by the headers/request timeouts, checked at least every
 * second. An upgraded WebSocket is not affected: `ws` clears the socket's
 * timeout, and the heartbeat looks after it.
 */
export function handshakeTimeoutOptions (ms: number): { connectionTimeout: number, requestTimeout: number, http: ServerOptions } {
  return {
    connectionTimeout: ms,
    requestTimeout: ms,
    http: { headersTimeout: ms, requestTimeout: ms, connectionsCheckingInterval: Math.min(1000, ms) }
  }
}
