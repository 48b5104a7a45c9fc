import { Type, type Static } from 'typebox'
import { CommonConfig, ConfigError, LinkSecretConfig, linkSecretOf, loadConfig } from '@training-live/service-kit'
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, QUEUE } from '@training-live/events'

/** `host:port` pairs, comma-separated (IPv6 hosts are not supported here). */
const HOST_PORT_LIST = '^\\s*[^,:\\s]+:[0-9]{1,5}\\s*(,\\s*[^,:\\s]+:[0-9]{1,5}\\s*)*$'

export const TrainingConfigSchema = Type.Object({
  ...CommonConfig,
  ...LinkSecretConfig,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8001 }),
  /** A gateway's link whose unsent data passes this many bytes is closed (the gateway does not keep up). */
  LINK_MAX_BUFFER_BYTES: Type.Integer({ minimum: 64 * 1024, maximum: 2 * 1024 * 1024 * 1024, default: 64 * 1024 * 1024 }),
  AMQP_URL: Type.String({ pattern: '^amqps?://', default: 'amqp://guest:guest@127.0.0.1:5672' }),
  AMQP_EXCHANGE: Type.String({ minLength: 1, default: EXCHANGE }),
  AMQP_QUEUE: Type.String({ minLength: 1, default: QUEUE }),
  AMQP_DEAD_LETTER_EXCHANGE: Type.String({ minLength: 1, default: DEAD_LETTER_EXCHANGE }),
  AMQP_DEAD_LETTER_QUEUE: Type.String({ minLength: 1, default: DEAD_LETTER_QUEUE }),
  /** `quorum` replicates the queue over the broker's cluster (production); an existing queue keeps its type. */
  AMQP_QUEUE_TYPE: Type.Union([Type.Literal('classic'), Type.Literal('quorum')], { default: 'classic' }),
  /** How often the queue's depth and consumer count are read for /metrics. */
  QUEUE_STATS_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
  /**
   * Unacknowledged deliveries the consumer holds at once. Events of different jobs are applied
   * concurrently, those of one job committed together; see docs/performance.md (Ingest) for the choice.
   */
  AMQP_PREFETCH: Type.Integer({ minimum: 1, maximum: 65535, default: 5000 }),
  /** A single Redis (or a proxy). Unused when REDIS_SENTINELS or REDIS_CLUSTER_NODES is set. */
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  /** Redis with Sentinel: the sentinels as `host:port,host:port`; the primary is asked of them. */
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINEL_MASTER: Type.String({ minLength: 1, default: 'mymaster' }),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  /** Redis Cluster: some of its nodes as `host:port,host:port`; the others are discovered. */
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  /** Password of the Redis data nodes with Sentinel or Cluster (with REDIS_URL it goes in the URL). */
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  /** Time between two PINGs that tell whether Redis answers (a paused server keeps its connections open). */
  REDIS_PING_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
  /** A PING unanswered this long makes the service not ready, and refuse new live clients, until one is answered. */
  REDIS_PING_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9._:-]*$', default: 'training-live:' }),
  /** Most live messages kept per job for resume (approximate, trimmed in whole nodes). */
  HISTORY_MAX_LENGTH: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
  /** Oldest live message kept per job for resume, in seconds. */
  HISTORY_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, default: 24 * 3600 }),
  /** A job's state and history expire this long after its last event. */
  JOB_TTL_SECONDS: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }),
  /** Most idle jobs whose state the consumer keeps in memory (LRU); terminal jobs are not kept. */
  JOB_CACHE_MAX_JOBS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** Most event ids plus product names over the jobs kept in memory (about 100 bytes each). */
  JOB_CACHE_MAX_MEMBERS: Type.Integer({ minimum: 0, default: 1_000_000 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 })
})
export type TrainingConfig = Static<typeof TrainingConfigSchema> & { linkSecret: string }

export function loadTrainingConfig (env: NodeJS.ProcessEnv = process.env): TrainingConfig {
  const config = loadConfig(TrainingConfigSchema, env)
  if (config.REDIS_SENTINELS !== undefined && config.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both')
  }
  for (const name of ['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const) {
    const list = config[name]
    if (list !== undefined && parseHostPorts(list).some(n => n.port < 1 || n.port > 65535)) {
      throw new ConfigError(`${name} has a port out of range: ${list}`)
    }
  }
  return { ...config, linkSecret: linkSecretOf(config) }
}

/** Parses a `host:port,host:port` list (validated by the schema). */
export function parseHostPorts (value: string): Array<{ host: string, port: number }> {
  return value.split(',').map(s => s.trim()).filter(s => s !== '').map(s => {
    const at = s.lastIndexOf(':')
    return { host: s.slice(0, at), port: Number(s.slice(at + 1)) }
  })
}
