import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createRedisClient, redisMode, type RedisClient } from '../redis-connection.ts'
import { RedisHealth } from '../redis-health.ts'

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient
    /** Subscriber connection: a Redis connection in subscribe mode cannot run commands. */
    redisSubscriber: RedisClient
    /** Whether Redis answers (both connections ready and a recent PING answered in time). */
    redisHealth: RedisHealth
  }
}

async function redis (fastify: FastifyInstance) {
  const c = fastify.config
  // ioredis sets TCP_NODELAY itself (its `noDelay` option defaults to true). Auto-pipelining sends the
  // commands of one tick in one write; measured on ingest it neither helped nor hurt (docs/performance.md, Ingest).
  const commands = createRedisClient(c, { connectionName: 'training-live', autoPipelining: true })
  const subscriber = createRedisClient(c, { connectionName: 'training-live', autoPipelining: false })
  const mode = redisMode(c)
  const health = new RedisHealth([commands, subscriber], { intervalMs: c.REDIS_PING_INTERVAL_MS, timeoutMs: c.REDIS_PING_TIMEOUT_MS })
  const gauge = fastify.trainingMetrics.redisConnected
  health.on('change', healthy => {
    gauge.set(healthy ? 1 : 0)
    if (healthy) fastify.log.info({ mode }, 'redis answers')
    else fastify.log.warn({ mode }, 'redis does not answer: not ready, new live clients refused, consumer paused')
  })
  for (const [name, client] of [['commands', commands], ['subscriber', subscriber]] as const) {
    client.on('error', err => fastify.log.warn({ err: err.message, connection: name }, 'redis connection error'))
    client.on('ready', () => fastify.log.info({ connection: name, mode }, 'redis ready'))
  }
  // Start without waiting: the service comes up (and reports not ready) while Redis is away.
  commands.connect().catch(() => {})
  subscriber.connect().catch(() => {})
  health.start()
  fastify.decorate<RedisClient>('redis', commands)
  fastify.decorate<RedisClient>('redisSubscriber', subscriber)
  fastify.decorate('redisHealth', health)
  fastify.readiness.add({ name: 'redis', check: () => health.healthy })
  fastify.addHook('onClose', async () => {
    health.stop()
    commands.disconnect()
    subscriber.disconnect()
  })
}

export const redisPlugin = fp(redis, { name: 'redis', dependencies: ['config', 'training-live-health'] })
