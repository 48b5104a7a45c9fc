/**
 * The public live route: authenticate (401/403, no upgrade), take a
 * connection slot (503/429 over the limits), open a session on the job's
 * replica over its link (its 4xx passed through, 503 if none accepts), then
 * upgrade and attach the client to the session.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { CloseCode, LIVE_PATH, LiveParams, LiveQuery } from '@training-live/events'
import {
  ConnectionLimiter, Heartbeat, RETRY_AFTER_SECONDS, holdConnectionSlot, inboundRateLimit, lazyChild, logsDebug, scheduleExpiry, selectProtocol
} from '@training-live/service-kit'
import { GatewayErrors } from '../errors.ts'
import type { ClientSession } from '../client-session.ts'
import type { Link } from '../link.ts'
import { LinkPool } from '../link-pool.ts'

/** Unsent bytes above which a client's slow-client timer starts. */
const HIGH_WATER_MARK = 64 * 1024

declare module 'fastify' {
  interface FastifyRequest {
    linkSession?: { link: Link, session: ClientSession }
  }
}

async function live (fastify: FastifyInstance) {
  const c = fastify.config
  const metrics = fastify.gatewayMetrics
  const clients = new Set<ClientSession>()
  const heartbeat = new Heartbeat(c.HEARTBEAT_INTERVAL_MS)
  // Bound once: a labelled inc() hashes its labels on every frame.
  const frameCounters = { upstream: metrics.frames.labels('upstream'), downstream: metrics.frames.labels('downstream') }
  const limiter = new ConnectionLimiter({ maxConnections: c.MAX_CONNECTIONS, maxPerTenant: c.MAX_CONNECTIONS_PER_TENANT })
  const pool = new LinkPool(c.upstreams, {
    secret: c.linkSecret,
    connectTimeoutMs: c.UPSTREAM_CONNECT_TIMEOUT_MS,
    heartbeatMs: c.LINK_HEARTBEAT_MS,
    limits: { highWaterMark: HIGH_WATER_MARK, slowClientTimeoutMs: c.SLOW_CLIENT_TIMEOUT_MS, maxBufferedBytes: c.MAX_SEND_BUFFER_BYTES },
    hooks: {
      onSlowClient: () => {
        metrics.cuts.inc({ reason: 'slow_client' })
        fastify.log.warn('client stopped reading: closing with 1013')
      },
      onSent: () => frameCounters.downstream.inc()
    },
    onState: (open, base) => {
      metrics.linksOpen.inc(open ? 1 : -1)
      fastify.log.info({ replica: base.origin }, open ? 'link to a training replica open' : 'link to a training replica lost')
    },
    onLost: (sessions, draining) => { if (!draining) metrics.upstreamLost.inc(sessions) },
    onBadFrame: reason => fastify.log.error({ reason }, 'malformed frame from a training replica')
  }, c.TRAINING_DNS_REFRESH_MS)
  await pool.start()
  fastify.addHook('onClose', async () => {
    heartbeat.stop()
    pool.stop()
  })

  await fastify.register(websocket, {
    options: { maxPayload: c.MAX_INBOUND_FRAME_BYTES, handleProtocols: selectProtocol, perMessageDeflate: false },
    preClose (done) {
      for (const session of clients) session.close(CloseCode.ServiceRestart, 'gateway restart')
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
      const { tenant_id: tenantId, job_id: jobId } = request.params as { tenant_id: string, job_id: string }
      const { last_id: lastId } = request.query as { last_id?: string }
      const { result, link } = await pool.openSession(
        { kind: 'job', tenant_id: tenantId, job_id: jobId, last_id: lastId, token: request.liveToken as string, request_id: String(request.id) },
        (upstream, reason) => {
          metrics.upstreamFailures.inc({ upstream })
          request.log.warn({ upstream, reason }, 'training replica did not accept the session; trying the next')
        })
      if (result.kind === 'refused') {
        metrics.refused.inc({ code: `UPSTREAM_${result.status}` })
        if (result.retryAfter > 0) reply.header('retry-after', String(result.retryAfter))
        return reply.code(result.status).type('application/json; charset=utf-8').send(result.body)
      }
      if (result.kind === 'failed' || link === null) {
        reply.header('retry-after', String(RETRY_AFTER_SECONDS.unavailable))
        throw new GatewayErrors.UpstreamUnavailable()
      }
      const session = result.session
      request.linkSession = { link, session }
      // If the client goes away before the upgrade completes, end its session. (The listener holds
      // the session only, not the request, for the connection's life.)
      request.raw.socket.once('close', () => {
        if (session.client === null) link.endSession(session, CloseCode.GoingAway)
      })
    }
  }, (client, request) => {
    const { link, session } = request.linkSession as { link: Link, session: ClientSession }
    const log = lazyChild(request.log, { tenant_id: request.principal?.tenant_id, job_id: (request.params as { job_id: string }).job_id })
    clients.add(session)
    heartbeat.add(client)
    metrics.connections.inc()
    metrics.accepted.inc()
    // Counted here, before the message goes to the replica; a client over the rate is cut (and
    // stops being read) as soon as possible.
    const admit = inboundRateLimit(client, c.MAX_INBOUND_MESSAGES_PER_SECOND, () => {
      metrics.cuts.inc({ reason: 'message_rate' })
      log().warn('client over the inbound message rate: closing with 1008')
    })
    client.on('message', (data: Buffer) => {
      if (!admit()) return
      frameCounters.upstream.inc()
      link.clientMessage(session, data)
    })
    const expiry = scheduleExpiry(request.principal?.exp ?? 0, () => {
      metrics.cuts.inc({ reason: 'token_expired' })
      session.close(CloseCode.TokenExpired, 'token expired')
    })
    client.on('close', (code) => {
      clearTimeout(expiry.timer)
      clients.delete(session)
      metrics.connections.dec()
      link.endSession(session, code)
      if (logsDebug(request.log)) log().debug({ code }, 'client closed')
    })
    client.on('error', () => {})
    session.attach(client)
  })

  // Ready when at least one training replica has an open link and is ready to serve.
  fastify.readiness.add({
    name: 'upstream',
    check: async () => {
      const answers = await Promise.all(pool.links.filter(link => link.open).map(async link => {
        try {
          const http = new URL(link.base)
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
