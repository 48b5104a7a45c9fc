/**
 * The training service as a Fastify app, built from small plugins. It knows
 * nothing of ports or signals (see server.ts), so tests build it on port 0.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { handshakeTimeoutOptions, loggerOptions, registerCommonPlugins, requestErrorOptions } from '@training-live/service-kit'
import type { TrainingConfig } from './config.ts'
import { TrainingErrors } from './errors.ts'
import { createTrainingMetrics } from './metrics.ts'
import { amqpPlugin } from './plugins/amqp.ts'
import { configPlugin } from './plugins/config.ts'
import { redisPlugin } from './plugins/redis.ts'
import { jobStorePlugin } from './plugins/job-store.ts'
import { liveCorePlugin } from './plugins/live-core.ts'
import { websocketPlugin } from './plugins/websocket.ts'
import { linkRoutes } from './routes/link.ts'
import { liveRoutes } from './routes/live.ts'

export async function buildApp (config: TrainingConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, 'training'),
    forceCloseConnections: true,
    // A client that connects but does not finish its request in time is dropped (slowloris).
    ...handshakeTimeoutOptions(config.HANDSHAKE_TIMEOUT_MS),
    // Answers to malformed URLs and requests that quote nothing the client sent (a token may be in the URL).
    ...requestErrorOptions(TrainingErrors),
    // Ids may be 128 characters (ID_PATTERN); the router's default limit of 100 would answer 414.
    routerOptions: { maxParamLength: 512 }
  })
  await app.register(configPlugin, { config })
  await registerCommonPlugins(app, { metricsPrefix: 'training', config, errors: TrainingErrors })
  app.decorate('trainingMetrics', createTrainingMetrics(app.metrics))
  await app.register(redisPlugin)
  await app.register(jobStorePlugin)
  await app.register(amqpPlugin)
  await app.register(liveCorePlugin)
  await app.register(websocketPlugin)
  await app.register(liveRoutes)
  await app.register(linkRoutes)
  return app
}
