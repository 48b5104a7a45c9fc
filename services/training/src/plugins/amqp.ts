import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import amqplib, { type ChannelModel } from 'amqplib'
import { EventApplier } from '../event-applier.ts'
import { EventConsumer } from '../event-consumer.ts'
import { QueueStats } from '../queue-stats.ts'
import { ConsumerChannel } from '../consumer-channel.ts'

declare module 'fastify' {
  interface FastifyInstance {
    consumer: EventConsumer
    /** Whether a new live client would be served now (Redis answers and the consumer has a channel). */
    acceptsLiveClients: () => boolean
  }
}

async function amqp (fastify: FastifyInstance) {
  const c = fastify.config
  const store = fastify.jobStore
  const log = fastify.log.child({ component: 'consumer' })
  const applier = new EventApplier(store, { cacheMaxJobs: c.JOB_CACHE_MAX_JOBS, cacheMaxMembers: c.JOB_CACHE_MAX_MEMBERS })
  // Redis came back, perhaps restarted without its data: cached states may no longer be what it holds.
  fastify.redis.on('ready', () => applier.invalidate())
  const consumer = new EventConsumer(applier, fastify.trainingMetrics, log)
  fastify.decorate('consumer', consumer)
  const topology = {
    exchange: c.AMQP_EXCHANGE,
    queue: c.AMQP_QUEUE,
    deadLetterExchange: c.AMQP_DEAD_LETTER_EXCHANGE,
    deadLetterQueue: c.AMQP_DEAD_LETTER_QUEUE,
    prefetch: c.AMQP_PREFETCH,
    queueType: c.AMQP_QUEUE_TYPE
  }

  const stats = new QueueStats(topology.queue, fastify.trainingMetrics)
  const consumerChannel = new ConsumerChannel(consumer, topology, log)

  // amqplib's own recovery reconnects with capped, jittered back-off and runs
  // setup after every connect, so the consumer is re-established each time.
  const connection = await amqplib.connect(c.AMQP_URL, {
    // amqplib leaves Nagle's algorithm on: acks (small frames) would wait for the previous segment's ACK.
    noDelay: true,
    clientProperties: { connection_name: 'training-live consumer' },
    recovery: {
      waitForConnect: false,
      initialDelay: 200,
      maxDelay: 5000,
      jitter: 0.3,
      setup: async (model: ChannelModel) => {
        await consumerChannel.attach(model)
        stats.attach(model)
        void stats.read()
      }
    }
  })
  connection.on('connect', () => fastify.trainingMetrics.amqpConnected.set(1))
  connection.on('disconnect', (err: Error) => {
    fastify.trainingMetrics.amqpConnected.set(0)
    stats.detach()
    log.warn({ err: err?.message }, 'amqp disconnected')
  })
  connection.on('connect-failed', (err: Error) => log.warn({ err: err.message }, 'amqp connect failed'))
  connection.on('error', (err: Error) => log.warn({ err: err.message }, 'amqp error'))

  // Taking deliveries that cannot be applied would only hold them here: while Redis does not answer
  // they wait in the queue instead.
  const followRedis = (healthy: boolean) => { void (healthy ? consumer.resume() : consumer.pause()) }
  fastify.redisHealth.on('change', followRedis)
  if (!fastify.redisHealth.healthy) void consumer.pause()

  // New live clients (direct or over a link) are taken only while both Redis and the broker are there.
  fastify.decorate('acceptsLiveClients', () => fastify.redisHealth.healthy && consumer.attached)

  fastify.readiness.add({ name: 'amqp', check: () => consumer.consuming || (consumer.paused && consumer.attached) })
  const statsTimer = setInterval(() => { void stats.read() }, c.QUEUE_STATS_INTERVAL_MS)
  statsTimer.unref()
  fastify.addHook('preClose', async () => {
    clearInterval(statsTimer)
    stats.detach()
    consumerChannel.stop()
    fastify.redisHealth.off('change', followRedis)
    // Events in flight wait for Redis; with Redis away they go back to the queue instead.
    await consumer.stop(fastify.redisHealth.whenDown())
  })
  fastify.addHook('onClose', async () => {
    await connection.close().catch(() => {})
  })
}

export const amqpPlugin = fp(amqp, { name: 'amqp', dependencies: ['config', 'redis', 'job-store', 'training-live-health'] })
