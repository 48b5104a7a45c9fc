import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createRedisClient, redisMode, type RedisClient } from '../redis-connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient
    /** Subscriber connection: a Redis connection in subscribe mode cannot run commands. */
    redisSubscriber: RedisClient
  }
}

async function redis (fastify: FastifyInstance) {
  const c = fastify.config
  // ioredis sets TCP_NODELAY itself (its `noDelay` option defaults to true). Auto-pipelining sends the
  // commands of one tick in one write; measured on ingest it neither helped nor hurt (docs/performance.md, Ingest).
  const commands = createRedisClient(c, { connectionName: 'training-live', autoPipelining: true })
  const subscriber = createRedisClient(c, { connectionName: 'training-live', autoPipelining: false })
  const mode = redisMode(c)
  const connected = () => commands.status === 'ready' && subscriber.status === 'ready'
  const gauge = fastify.trainingMetrics.redisConnected
  for (const [name, client] of [['commands', commands], ['subscriber', subscriber]] as const) {
    client.on('error', err => fastify.log.warn({ err: err.message, connection: name }, 'redis connection error'))
    client.on('ready', () => {
      gauge.set(connected() ? 1 : 0)
      fastify.log.info({ connection: name, mode }, 'redis ready')
    })
    client.on('close', () => gauge.set(0))
  }
  // Start without waiting: the service comes up (and reports not ready) while Redis is away.
  commands.connect().catch(() => {})
  subscriber.connect().catch(() => {})
  fastify.decorate<RedisClient>('redis', commands)
  fastify.decorate<RedisClient>('redisSubscriber', subscriber)
  fastify.readiness.add({ name: 'redis', check: connected })
  fastify.addHook('onClose', async () => {
    commands.disconnect()
    subscriber.disconnect()
  })
}

export const redisPlugin = fp(redis, { name: 'redis', dependencies: ['config', 'training-live-health'] })
