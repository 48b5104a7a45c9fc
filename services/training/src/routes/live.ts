/**
 * GET /api/v1/tenants/:tenant_id/training/jobs/:job_id/live
 * Snapshot first, then history after last_id, then live events.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import {
  CloseCode, LIVE_PATH, LiveParams, LiveQuery, MessageType, isTerminal, snapshotOf,
  type ConnectedMessage
} from '@training-live/events'
import { ConnectionLimiter, Heartbeat, RETRY_AFTER_SECONDS, holdConnectionSlot, inboundRateLimit, lazyChild, logsDebug, selectProtocol } from '@training-live/service-kit'
import { TrainingErrors } from '../errors.ts'
import { LiveHub, messageTimestamp } from '../live-hub.ts'
import { LiveConnection } from '../live-connection.ts'
import { RedisJobStore, reachesBack, type JobHistoryRead } from '../job-store.ts'

const badMessage = new TrainingErrors.BadMessage()
const BAD_MESSAGE = JSON.stringify({ type: MessageType.Error, code: badMessage.code, message: badMessage.message })

/** Longest a timer may wait (setTimeout's limit); tokens expiring later are checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

async function live (fastify: FastifyInstance) {
  const c = fastify.config
  const metrics = fastify.trainingMetrics
  const connections = new Set<LiveConnection>()
  const limiter = new ConnectionLimiter({ maxConnections: c.MAX_CONNECTIONS, maxPerTenant: c.MAX_CONNECTIONS_PER_TENANT })
  const store = new RedisJobStore(fastify.redis, {
    prefix: c.REDIS_KEY_PREFIX,
    historyMaxLength: c.HISTORY_MAX_LENGTH,
    historyMaxAgeMs: c.HISTORY_MAX_AGE_SECONDS * 1000,
    jobTtlMs: c.JOB_TTL_SECONDS * 1000
  })
  const hub = new LiveHub({
    subscribe: channel => fastify.redisSubscriber.subscribe(channel),
    unsubscribe: channel => fastify.redisSubscriber.unsubscribe(channel)
  })
  // The bytes as Redis sent them: not decoded here, nor encoded again for each socket.
  fastify.redisSubscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    if (hub.deliver(channel.toString(), message) === 0) return
    // Once per message and process, not per socket. The worker's clock sets the timestamp: skew shows.
    const emitted = messageTimestamp(message)
    if (!Number.isNaN(emitted)) metrics.liveLatency.observe(Math.max(0, Date.now() - emitted) / 1000)
  })

  // Pub/sub does not queue: what is published while the subscriber reconnects never reaches it.
  // So every socket is held from the moment it drops; once it is back and subscribed again, each
  // gets what it missed from the history, then what was held. Sockets stay open; nothing is lost.
  const jobOf = new Map<LiveConnection, { tenantId: string, jobId: string, started: Promise<unknown> }>()
  let generation = 0
  let dropped = false
  fastify.redisSubscriber.on('close', () => {
    dropped = true
    generation++
    for (const connection of connections) connection.hold()
  })
  fastify.redisSubscriber.on('ready', () => {
    if (!dropped) return
    dropped = false
    void resync(generation)
  })
  async function resync (gen: number): Promise<void> {
    try {
      // Confirmed subscriptions first (after ioredis' own resubscribe), so the reads below miss nothing.
      const channels = hub.channelNames
      if (channels.length > 0) await fastify.redisSubscriber.subscribe(...channels)
    } catch {
      return // Dropped again: the next 'ready' resyncs.
    }
    // Sockets of one job that stood at the same id share one read.
    const reads = new Map<string, Promise<JobHistoryRead>>()
    await Promise.all([...jobOf].map(async ([connection, { tenantId, jobId, started }]) => {
      await started
      if (gen !== generation || !connection.started) return
      const after = connection.lastId ?? '0-0'
      const key = `${tenantId}/${jobId}/${after}`
      try {
        let pending = reads.get(key)
        if (pending === undefined) {
          pending = store.read(tenantId, jobId, after)
          reads.set(key, pending)
        }
        const read = await pending
        if (gen !== generation) return
        if (read.historyExists && !reachesBack(read, after)) {
          // What it missed is no longer all in the history: let the client resume and be told.
          connection.close(CloseCode.UpstreamLost, 'history lost')
          return
        }
        // Paced by the client; a later resync supersedes it.
        void connection.resume(read.messages)
      } catch (err) {
        fastify.log.warn({ err, tenant_id: tenantId, job_id: jobId }, 'could not resync a live socket; closing it')
        connection.close(CloseCode.UpstreamLost, 'state unavailable')
      }
    }))
  }

  await fastify.register(websocket, {
    options: { maxPayload: c.MAX_INBOUND_FRAME_BYTES, handleProtocols: selectProtocol, perMessageDeflate: false },
    preClose (done) {
      // Draining: tell every client to reconnect (elsewhere) and resume with last_id.
      for (const connection of connections) connection.close(CloseCode.ServiceRestart, 'service restart')
      this.websocketServer.close(() => done())
    }
  })

  const heartbeat = new Heartbeat(c.HEARTBEAT_INTERVAL_MS, () => metrics.liveCuts.inc({ reason: 'heartbeat' }))
  fastify.addHook('onClose', async () => heartbeat.stop())

  fastify.get(LIVE_PATH, {
    websocket: true,
    schema: { params: LiveParams, querystring: LiveQuery },
    onRequest: async (request, reply) => {
      await fastify.authenticateLive(request)
      // Upgraded without Redis, a socket would wait in silence for a snapshot; without the broker it
      // would get a snapshot and then nothing. Refused, the client retries (the gateway tries another replica).
      if (!fastify.redisHealth.healthy || !fastify.consumer.attached) {
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
    const channel = store.channel(tenantId, jobId)
    const connection = new LiveConnection(socket, { maxSendBufferBytes: c.MAX_SEND_BUFFER_BYTES }, {
      onCut: reason => metrics.liveCuts.inc({ reason }),
      onSent: () => metrics.liveMessages.inc()
    })
    connections.add(connection)
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
      connections.delete(connection)
      jobOf.delete(connection)
      metrics.liveConnections.dec()
      hub.leave(channel, connection)
    })

    const started = hub.join(channel, connection)
      .then(() => store.read(tenantId, jobId, lastIdParam ?? null))
      .then(read => {
        const snapshot = snapshotOf(read.summary, read.lastId)
        let history = read.messages
        if (lastIdParam !== undefined) {
          const recovered = reachesBack(read, lastIdParam)
          snapshot.recovered = recovered
          if (!recovered) history = []
        }
        const message: ConnectedMessage = {
          type: MessageType.Connected, job_id: jobId, tenant_id: tenantId, timestamp: new Date().toISOString(), data: snapshot
        }
        // Without last_id the client starts from the snapshot; either way it is at read.lastId after this.
        if (logsDebug(request.log)) log().debug({ last_id: lastIdParam, replayed: history.length }, 'live client starting')
        return connection.start(JSON.stringify(message), history, read.lastId, isTerminal(read.summary.status))
      })
      .catch(err => {
        log().error({ err }, 'could not start live stream')
        connection.close(CloseCode.UpstreamLost, 'state unavailable')
      })
    jobOf.set(connection, { tenantId, jobId, started })
  })
}

function scheduleExpiry (expSeconds: number, onExpired: () => void): { timer: NodeJS.Timeout } {
  const holder = { timer: undefined as unknown as NodeJS.Timeout }
  const arm = () => {
    const wait = expSeconds * 1000 - Date.now()
    if (wait <= 0) { onExpired(); return }
    holder.timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS))
    holder.timer.unref()
  }
  arm()
  return holder
}

export const liveRoutes = fp(live, { name: 'live', dependencies: ['config', 'redis', 'training-live-auth', 'amqp'] })
