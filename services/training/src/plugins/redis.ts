import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis
    /** Subscriber connection: a Redis connection in subscribe mode cannot run commands. */
    redisSubscriber: Redis
  }
}

async function redis (fastify: FastifyInstance) {
  const { REDIS_URL } = fastify.config
  // ioredis sets TCP_NODELAY itself (its `noDelay` option defaults to true). Auto-pipelining sends the
  // commands of one tick in one write; measured on ingest it neither helped nor hurt (docs/performance.md, Ingest).
  const options = { connectionName: 'training-live', maxRetriesPerRequest: null, enableAutoPipelining: true, lazyConnect: true }
  const commands = new Redis(REDIS_URL, options)
  const subscriber = new Redis(REDIS_URL, { ...options, enableAutoPipelining: false })
  for (const [name, client] of [['commands', commands], ['subscriber', subscriber]] as const) {
    client.on('error', err => fastify.log.warn({ err: err.message, connection: name }, 'redis connection error'))
    client.on('ready', () => fastify.log.info({ connection: name }, 'redis ready'))
  }
  // Start without waiting: the service comes up (and reports not ready) while Redis is away.
  commands.connect().catch(() => {})
  subscriber.connect().catch(() => {})
  fastify.decorate('redis', commands)
  fastify.decorate('redisSubscriber', subscriber)
  fastify.readiness.add({ name: 'redis', check: () => commands.status === 'ready' && subscriber.status === 'ready' })
  fastify.addHook('onClose', async () => {
    commands.disconnect()
    subscriber.disconnect()
  })
}

export const redisPlugin = fp(redis, { name: 'redis', dependencies: ['config', 'training-live-health'] })
