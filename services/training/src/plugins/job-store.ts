import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { RedisJobStore } from '../job-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Job state and history in Redis: the consumer writes through it, the live core reads it. */
    jobStore: RedisJobStore
  }
}

async function jobStore (fastify: FastifyInstance) {
  const c = fastify.config
  fastify.decorate('jobStore', new RedisJobStore(fastify.redis, {
    prefix: c.REDIS_KEY_PREFIX,
    historyMaxLength: c.HISTORY_MAX_LENGTH,
    historyMaxAgeMs: c.HISTORY_MAX_AGE_SECONDS * 1000,
    jobTtlMs: c.JOB_TTL_SECONDS * 1000
  }))
}

export const jobStorePlugin = fp(jobStore, { name: 'job-store', dependencies: ['config', 'redis'] })
