import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { LiveCore } from '../live-core.ts'

declare module 'fastify' {
  interface FastifyInstance {
    liveCore: LiveCore
  }
}

async function liveCore (fastify: FastifyInstance) {
  fastify.decorate('liveCore', new LiveCore({ store: fastify.jobStore, subscriber: fastify.redisSubscriber, metrics: fastify.trainingMetrics, log: fastify.log }))
}

export const liveCorePlugin = fp(liveCore, { name: 'live-core', dependencies: ['config', 'redis', 'job-store'] })
