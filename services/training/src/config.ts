import { Type, type Static } from 'typebox'
import { CommonConfig, loadConfig } from '@training-live/service-kit'
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, QUEUE } from '@training-live/events'

export const TrainingConfigSchema = Type.Object({
  ...CommonConfig,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8001 }),
  AMQP_URL: Type.String({ pattern: '^amqps?://', default: 'amqp://guest:guest@127.0.0.1:5672' }),
  AMQP_EXCHANGE: Type.String({ minLength: 1, default: EXCHANGE }),
  AMQP_QUEUE: Type.String({ minLength: 1, default: QUEUE }),
  AMQP_DEAD_LETTER_EXCHANGE: Type.String({ minLength: 1, default: DEAD_LETTER_EXCHANGE }),
  AMQP_DEAD_LETTER_QUEUE: Type.String({ minLength: 1, default: DEAD_LETTER_QUEUE }),
  /**
   * Unacknowledged deliveries the consumer holds at once. Events of different jobs are applied
   * concurrently, those of one job committed together; see docs/performance.md (Ingest) for the choice.
   */
  AMQP_PREFETCH: Type.Integer({ minimum: 1, maximum: 65535, default: 5000 }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
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
export type TrainingConfig = Static<typeof TrainingConfigSchema>

export function loadTrainingConfig (env: NodeJS.ProcessEnv = process.env): TrainingConfig {
  return loadConfig(TrainingConfigSchema, env)
}
