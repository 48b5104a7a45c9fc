/**
 * GET /api/v1/tenants/:tenant_id/training/jobs/:job_id/live
 * Snapshot first, then history after last_id, then live events.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CloseCode, LIVE_PATH, LiveParams, LiveQuery, MessageType } from '@training-live/events'
import { ConnectionLimiter, Heartbeat, RETRY_AFTER_SECONDS, holdConnectionSlot, inboundRateLimit, lazyChild, logsDebug, scheduleExpiry } from '@training-live/service-kit'
import { TrainingErrors } from '../errors.ts'
import { LiveConnection } from '../live-connection.ts'

const badMessage = new TrainingErrors.BadMessage()
const BAD_MESSAGE = JSON.stringify({ type: MessageType.Error, code: badMessage.code, message: badMessage.message })

async function live (fastify: FastifyInstance) {
  const c = fastify.config
  const metrics = fastify.trainingMetrics
  const core = fastify.liveCore
  const limiter = new ConnectionLimiter({ maxConnections: c.MAX_CONNECTIONS, maxPerTenant: c.MAX_CONNECTIONS_PER_TENANT })

  const heartbeat = new Heartbeat(c.HEARTBEAT_INTERVAL_MS, () => metrics.liveCuts.inc({ reason: 'heartbeat' }))
  fastify.addHook('onClose', async () => heartbeat.stop())

  fastify.get(LIVE_PATH, {
    websocket: true,
    schema: { params: LiveParams, querystring: LiveQuery },
    onRequest: async (request, reply) => {
      await fastify.authenticateLive(request)
      // Upgraded without Redis, a socket would wait in silence for a snapshot; without the broker it
      // would get a snapshot and then nothing. Refused, the client retries (the gateway tries another replica).
      if (!fastify.acceptsLiveClients()) {
        reply.header('retry-after', String(RETRY_AFTER_SECONDS.unavailable))
        throw new TrainingErrors.Unavailable()
      }
      // After authentication, so that the tenant is known; before any upgrade.
      holdConnectionSlot(limiter, request, reply, TrainingErrors)
    },
    onError: async (_request, _reply, err: Error & { code?: string }) => {
      metrics.refused.inc({ code: err.code ?? 'UNKNOWN' })
    }
  }, (socket, request) => {
    const { tenant_id: tenantId, job_id: jobId } = request.params as { tenant_id: string, job_id: string }
    const { last_id: lastIdParam } = request.query as { last_id?: string }
    const log = lazyChild(request.log, { tenant_id: tenantId, job_id: jobId })
    const channel = core.channel(tenantId, jobId)
    const connection = new LiveConnection(socket, { maxSendBufferBytes: c.MAX_SEND_BUFFER_BYTES }, {
      onCut: reason => metrics.liveCuts.inc({ reason }),
      onSent: () => metrics.liveMessages.inc()
    })
    metrics.accepted.inc()
    metrics.liveConnections.inc()
    heartbeat.add(socket)

    const admit = inboundRateLimit(socket, c.MAX_INBOUND_MESSAGES_PER_SECOND, () => {
      metrics.liveCuts.inc({ reason: 'message_rate' })
      log().warn('client over the inbound message rate: closing with 1008')
    }, (code, reason) => connection.close(code, reason))

    // Listeners are attached synchronously, before any await, so no frame is missed.
    socket.on('message', (data, isBinary) => {
      if (!admit()) return
      let type: unknown
      try { type = isBinary ? undefined : (JSON.parse(data.toString()) as { type?: unknown }).type } catch {}
      if (type === MessageType.Ping) connection.pong()
      else socket.send(BAD_MESSAGE)
    })
    const expiry = scheduleExpiry(request.principal?.exp ?? 0, () => connection.close(CloseCode.TokenExpired, 'token expired', 'token_expired'))
    socket.on('close', () => {
      clearTimeout(expiry.timer)
      core.untrack(connection)
      metrics.liveConnections.dec()
      core.hub.leave(channel, connection)
    })

    const started = core.hub.join(channel, connection)
      .then(() => core.open(tenantId, jobId, lastIdParam ?? null))
      .then(opening => {
        // Without last_id the client starts from the snapshot; either way it is at opening.lastId after this.
        if (logsDebug(request.log)) log().debug({ last_id: lastIdParam, replayed: opening.history.length }, 'live client starting')
        return connection.start(opening.snapshot, opening.history, opening.lastId, opening.finished)
      })
      .catch(err => {
        log().error({ err }, 'could not start live stream')
        connection.close(CloseCode.UpstreamLost, 'state unavailable')
      })
    core.track(connection, tenantId, jobId, started)
  })
}

export const liveRoutes = fp(live, { name: 'live', dependencies: ['config', 'live-core', 'websocket-transport', 'training-live-auth', 'amqp'] })
