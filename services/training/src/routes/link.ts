/**
 * GET /internal/v1/link: a gateway's link (docs/internals.md). Only a
 * gateway with the link secret may open one; the sessions it carries are
 * held by LinkEndpoint over the same live core as the direct route.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import createError from '@fastify/error'
import { Heartbeat, LINK_PATH, LINK_VERSION, LINK_VERSION_HEADER, RETRY_AFTER_SECONDS, linkCredentialMatches } from '@training-live/service-kit'
import { TrainingErrors } from '../errors.ts'
import { LinkEndpoint } from '../link-endpoint.ts'

const LinkForbidden = createError('TRAINING_LINK_FORBIDDEN', 'a link needs the gateways\' link secret', 401)
const LinkVersion = createError('TRAINING_LINK_VERSION', `this replica speaks link version ${LINK_VERSION}`, 400)
const unavailable = new TrainingErrors.Unavailable()
const badMessage = new TrainingErrors.BadMessage()

async function link (fastify: FastifyInstance) {
  const c = fastify.config
  const metrics = fastify.trainingMetrics
  // A gateway that vanished without closing (a cut cable) is found by its missing pong, so its
  // sessions do not stay held here.
  const heartbeat = new Heartbeat(c.HEARTBEAT_INTERVAL_MS)
  fastify.addHook('onClose', async () => heartbeat.stop())

  fastify.get(LINK_PATH, {
    websocket: true,
    onRequest: async (request) => {
      if (!linkCredentialMatches(request.headers.authorization, c.linkSecret)) throw new LinkForbidden()
      if (request.headers[LINK_VERSION_HEADER] !== String(LINK_VERSION)) throw new LinkVersion()
    }
  }, (socket, request) => {
    const endpoint = new LinkEndpoint(socket, {
      core: fastify.liveCore,
      log: request.log,
      verify: (token, tenantId) => fastify.verifyLiveToken(token, tenantId),
      unavailable: () => fastify.acceptsLiveClients()
        ? null
        : { status: 503, retryAfter: RETRY_AFTER_SECONDS.unavailable, code: unavailable.code, message: unavailable.message },
      maxBufferedBytes: c.LINK_MAX_BUFFER_BYTES,
      badMessage: { code: badMessage.code, message: badMessage.message },
      onSessions: delta => { metrics.linkSessions.inc(delta); metrics.liveConnections.inc(delta) },
      onPublish: () => metrics.linkPublishes.inc(),
      onSlowLink: () => metrics.slowLinks.inc()
    })
    heartbeat.add(socket)
    metrics.links.inc()
    request.log.info({ gateway: request.ip }, 'gateway link opened')
    socket.on('close', (code: number) => {
      metrics.links.dec()
      request.log.info({ gateway: request.ip, code, sessions: endpoint.sessions }, 'gateway link closed')
    })
  })
}

export const linkRoutes = fp(link, { name: 'link', dependencies: ['config', 'live-core', 'websocket-transport', 'training-live-auth', 'amqp'] })
