import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The training service's own metrics, registered on the app's registry. */
export function createTrainingMetrics (registry: Registry) {
  const registers = [registry]
  return {
    events: new Counter({
      name: 'training_events_total',
      help: 'Events taken from the queue, by event type and outcome (applied, duplicate, terminal, dead_lettered).',
      labelNames: ['type', 'outcome'] as const,
      registers
    }),
    deadLettered: new Counter({
      name: 'training_events_dead_lettered_total',
      help: 'Events rejected to the dead-letter exchange, by reason.',
      labelNames: ['reason'] as const,
      registers
    }),
    redelivered: new Counter({
      name: 'training_events_redelivered_total',
      help: 'Deliveries the broker marked as redelivered.',
      registers
    }),
    applyErrors: new Counter({
      name: 'training_apply_errors_total',
      help: 'Attempts to apply an event in Redis that failed and were retried.',
      registers
    }),
    applyDuration: new Histogram({
      name: 'training_apply_duration_seconds',
      help: 'Time to apply one event in Redis, from delivery to ack.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers
    }),
    liveConnections: new Gauge({
      name: 'training_live_connections',
      help: 'Open live sessions: direct WebSocket connections and client sessions over gateways\' links.',
      registers
    }),
    accepted: new Counter({
      name: 'training_connections_accepted_total',
      help: 'Live handshakes accepted (upgraded to a WebSocket).',
      registers
    }),
    liveLatency: new Histogram({
      name: 'training_live_latency_seconds',
      help: 'From an event\'s own timestamp (set by the worker) to its live message being sent to this process\'s sockets; includes clock skew between worker and service.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    queueMessages: new Gauge({
      name: 'training_queue_messages',
      help: 'Events ready in the queue, not yet delivered to the consumer (consumer lag), as last read by this replica.',
      registers
    }),
    queueConsumers: new Gauge({
      name: 'training_queue_consumers',
      help: 'Consumers on the queue as the broker counts them (a classic queue counts the standbys too, a quorum queue only the active one), as last read by this replica.',
      registers
    }),
    liveMessages: new Counter({
      name: 'training_live_messages_sent_total',
      help: 'Messages sent to live WebSocket clients (snapshots, history and live events).',
      registers
    }),
    refused: new Counter({
      name: 'training_connections_refused_total',
      help: 'Live handshakes refused, by error code.',
      labelNames: ['code'] as const,
      registers
    }),
    liveCuts: new Counter({
      name: 'training_live_disconnects_total',
      help: 'Live connections closed by the server, by reason.',
      labelNames: ['reason'] as const,
      registers
    }),
    amqpConnected: new Gauge({
      name: 'training_amqp_connected',
      help: '1 while the consumer is connected to the broker.',
      registers
    }),
    links: new Gauge({ name: 'training_links', help: 'Open links from gateways.', registers }),
    linkSessions: new Gauge({ name: 'training_link_sessions', help: 'Client sessions held over gateways\' links.', registers }),
    linkPublishes: new Counter({
      name: 'training_link_publishes_total',
      help: 'Live messages written to links: once per link and job, however many of the gateway\'s clients watch it.',
      registers
    }),
    slowLinks: new Counter({ name: 'training_slow_links_total', help: 'Links closed because their gateway did not read them fast enough.', registers }),
    redisConnected: new Gauge({
      name: 'training_redis_connected',
      help: '1 while Redis answers: both connections ready and the latest PING answered in time.',
      registers
    })
  }
}
export type TrainingMetrics = ReturnType<typeof createTrainingMetrics>

declare module 'fastify' {
  interface FastifyInstance {
    trainingMetrics: TrainingMetrics
  }
}
