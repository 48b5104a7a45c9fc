import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's own registry: tests build many apps in one process, so none uses the global one. */
    metrics: Registry
  }
}

async function metrics (fastify: FastifyInstance, options: { prefix: string }) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: `${options.prefix}_` })
  fastify.decorate('metrics', registry)
  fastify.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

export const metricsPlugin = fp(metrics, { name: 'training-live-metrics' })
