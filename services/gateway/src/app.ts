import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { handshakeTimeoutOptions, loggerOptions, registerCommonPlugins, requestErrorOptions } from '@training-live/service-kit'
import type { GatewayConfig } from './config.ts'
import { GatewayErrors } from './errors.ts'
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts'
import { liveRoutes } from './routes/live.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: GatewayConfig
    gatewayMetrics: GatewayMetrics
  }
}

const configPlugin = fp(async (fastify: FastifyInstance, options: { config: GatewayConfig }) => {
  fastify.decorate('config', options.config)
}, { name: 'config' })

export async function buildApp (config: GatewayConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, 'gateway'),
    forceCloseConnections: true,
    // A client that connects but does not finish its request in time is dropped (slowloris).
    ...handshakeTimeoutOptions(config.HANDSHAKE_TIMEOUT_MS),
    // Answers to malformed URLs and requests that quote nothing the client sent (a token may be in the URL).
    ...requestErrorOptions(GatewayErrors),
    // Ids may be 128 characters (ID_PATTERN), up to 3x that when percent-encoded; the default
    // limit of 100 would answer 414 to a valid id before the schema is even checked.
    routerOptions: { maxParamLength: 512 }
  })
  await app.register(configPlugin, { config })
  await registerCommonPlugins(app, { metricsPrefix: 'gateway', config, errors: GatewayErrors })
  app.decorate('gatewayMetrics', createGatewayMetrics(app.metrics))
  await app.register(liveRoutes)
  return app
}
