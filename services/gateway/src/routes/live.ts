/**
 * The public live route: authenticate (401/403, no upgrade), take a
 * connection slot (503/429 over the limits), open the upstream (pass its
 * 4xx through, 503 if none answers), then upgrade and pipe.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import WebSocket from 'ws'
import { CloseCode, LIVE_PATH, LiveParams, LiveQuery } from '@training-live/events'
import { ConnectionLimiter, Heartbeat, RETRY_AFTER_SECONDS, holdConnectionSlot, inboundRateLimit, lazyChild, logsDebug, selectProtocol } from '@training-live/service-kit'
import { GatewayErrors } from '../errors.ts'
import { pipeSockets } from '../proxy.ts'
import { UpstreamPool, type Upstream } from '../upstream.ts'

const HIGH_WATER_MARK = 64 * 1024

declare module 'fastify' {
  interface FastifyRequest {
    upstream?: Upstream
  }
}

async function live (fastify: FastifyInstance) {
  const c = fastify.config
  const metrics = fastify.gatewayMetrics
  const pool = new UpstreamPool(c.upstreams, c.UPSTREAM_CONNECT_TIMEOUT_MS)
  const clients = new Set<WebSocket>()
  const heartbeat = new Heartbeat(c.HEARTBEAT_INTERVAL_MS)
  // Bound once: a labelled inc() hashes its labels on every frame.
  const frameCounters = { upstream: metrics.frames.labels('upstream'), downstream: metrics.frames.labels('downstream') }
  const limiter = new ConnectionLimiter({ maxConnections: c.MAX_CONNECTIONS, maxPerTenant: c.MAX_CONNECTIONS_PER_TENANT })
  fastify.addHook('onClose', async () => heartbeat.stop())

  await fastify.register(websocket, {
    options: { maxPayload: c.MAX_INBOUND_FRAME_BYTES, handleProtocols: selectProtocol, perMessageDeflate: false },
    preClose (done) {
      for (const client of clients) client.close(CloseCode.ServiceRestart, 'gateway restart')
      this.websocketServer.close(() => done())
    }
  })

  fastify.setErrorHandler((err: Error & { statusCode?: number, code?: string }, request, reply) => {
    const status = err.statusCode ?? 500
    if (request.routeOptions.url === LIVE_PATH) metrics.refused.inc({ code: err.code ?? 'UNKNOWN' })
    if (status >= 500) request.log.error({ err }, 'request failed')
    reply.code(status).send({ statusCode: status, code: err.code, error: status >= 500 ? 'Service Unavailable' : 'Refused', message: err.message })
  })

  fastify.get(LIVE_PATH, {
    websocket: true,
    schema: { params: LiveParams, querystring: LiveQuery },
    onRequest: async (request, reply) => {
      await fastify.authenticateLive(request)
      // After authentication, so that the tenant is known; before the upstream is opened.
      holdConnectionSlot(limiter, request, reply, GatewayErrors)
    },
    preHandler: async (request, reply) => {
      const upstream = await openUpstream(request)
      if (upstream.kind === 'refused') {
        metrics.refused.inc({ code: `UPSTREAM_${upstream.status}` })
        return reply.code(upstream.status).type(upstream.contentType).send(upstream.body)
      }
      if (upstream.kind === 'failed') {
        reply.header('retry-after', String(RETRY_AFTER_SECONDS.unavailable))
        throw new GatewayErrors.UpstreamUnavailable()
      }
      request.upstream = upstream
      // If the client goes away before the upgrade completes, do not leak the upstream. (The
      // listener holds the upstream socket only, not the request, for the connection's life.)
      const upstreamSocket = upstream.socket
      request.raw.socket.once('close', () => {
        if (!clients.has(upstreamSocket)) upstreamSocket.terminate()
      })
    }
  }, (client, request) => {
    const upstream = request.upstream as Upstream
    const log = lazyChild(request.log, { tenant_id: request.principal?.tenant_id, job_id: (request.params as { job_id: string }).job_id })
    clients.add(client)
    clients.add(upstream.socket)
    heartbeat.add(client)
    metrics.connections.inc()
    metrics.accepted.inc()
    // Counted here, apart from the proxy, which does not parse frames; added first, so a client over
    // the rate is cut (and stops being read) as soon as possible.
    const admit = inboundRateLimit(client, c.MAX_INBOUND_MESSAGES_PER_SECOND, () => {
      metrics.cuts.inc({ reason: 'message_rate' })
      log().warn('client over the inbound message rate: closing with 1008')
    })
    client.on('message', () => { admit() })
    pipeSockets(client, upstream, {
      highWaterMark: HIGH_WATER_MARK,
      slowClientTimeoutMs: c.SLOW_CLIENT_TIMEOUT_MS,
      onSlowClient: () => {
        metrics.cuts.inc({ reason: 'slow_client' })
        log().warn('client stopped reading: closing with 1013')
      },
      onFrame: direction => frameCounters[direction].inc(),
      onUpstreamLost: () => { metrics.upstreamLost.inc(); log().warn({ upstream: upstream.url }, 'upstream lost') }
    })
    client.on('close', (code) => {
      clients.delete(client)
      clients.delete(upstream.socket)
      metrics.connections.dec()
      if (logsDebug(request.log)) log().debug({ code }, 'client closed')
    })
  })

  function openUpstream (request: FastifyRequest) {
    const { last_id: lastId } = request.query as { last_id?: string }
    const path = (request.raw.url ?? '').split('?')[0] as string
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.liveToken as string}`,
      'x-forwarded-for': request.ip,
      'x-request-id': String(request.id)
    }
    return pool.open(lastId === undefined ? path : `${path}?last_id=${encodeURIComponent(lastId)}`, headers, (url, reason) => {
      metrics.upstreamFailures.inc({ upstream: url })
      request.log.warn({ upstream: url, reason }, 'upstream did not answer; trying the next')
    })
  }

  // Ready when at least one training replica is ready to serve.
  fastify.readiness.add({
    name: 'upstream',
    check: async () => {
      const answers = await Promise.all(pool.bases.map(async base => {
        try {
          const http = new URL(base)
          if (http.protocol === 'ws:') http.protocol = 'http:'
          if (http.protocol === 'wss:') http.protocol = 'https:'
          const res = await fetch(new URL('/ready', http), { signal: AbortSignal.timeout(1000) })
          return res.ok
        } catch { return false }
      }))
      return answers.some(Boolean)
    }
  })
}

export const liveRoutes = fp(live, { name: 'live', dependencies: ['config', 'training-live-auth', 'training-live-health'] })
