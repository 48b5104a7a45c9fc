/**
 * Job state and history in Redis. Each job has a hash (state, version,
 * last id) and a stream (its live messages); both keys share a hash tag so
 * the scripts stay valid on Redis Cluster.
 */
import type { Redis, Result } from 'ioredis'
import { compareStreamIds, initialJobState, type JobState } from '@training-live/events'

export interface StoreOptions {
  prefix: string
  historyMaxLength: number
  historyMaxAgeMs: number
  jobTtlMs: number
}

export interface LoadedJob { state: JobState, version: number }

export type CommitResult = { ok: true, id: string } | { ok: false }

export interface JobHistoryRead {
  state: JobState
  /** Id of the newest message in the history, or null. */
  lastId: string | null
  /** Full live messages (JSON text) after the requested last_id, oldest first. */
  messages: Array<{ id: string, raw: string }>
  /** Ids removed from the history (by trimming or deletion) reach up to this one, or null when none was (Redis >= 7). */
  maxDeletedId: string | null
  historyExists: boolean
}

/** The store the consumer writes through; a small interface so it can be tested alone. */
export interface JobStore {
  load (tenantId: string, jobId: string): Promise<LoadedJob>
  /** Writes the new state, appends the message to history and publishes it, only if the version is unchanged. */
  commit (tenantId: string, jobId: string, expectedVersion: number, state: JobState, message: string): Promise<CommitResult>
  read (tenantId: string, jobId: string, afterId: string | null): Promise<JobHistoryRead>
  channel (tenantId: string, jobId: string): string
}

// Compare-and-set on the version keeps the pure reducer's decisions (duplicates,
// terminal status) atomic even if two consumers overlap during a failover.
const COMMIT_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {0, tostring(v)} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'm', ARGV[3])
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XTRIM', KEYS[2], 'MINID', string.format('%.0f', nowMs - tonumber(ARGV[6])))
redis.call('HSET', KEYS[1], 'v', v + 1, 's', ARGV[2], 'last', id)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PUBLISH', ARGV[4], '{"id":"' .. id .. '",' .. string.sub(ARGV[3], 2))
return {1, id}
`

// One atomic read: the snapshot and the history after last_id agree with each other.
const READ_SCRIPT = `
local h = redis.call('HMGET', KEYS[1], 's', 'last')
local exists = redis.call('EXISTS', KEYS[2])
local entries = {}
local maxDeleted = false
local trimmed = 0
local firstKept = false
local lastGenerated = false
if ARGV[1] ~= '' and exists == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  local f = {}
  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
  maxDeleted = f['max-deleted-entry-id'] or false
  -- Trimming (MAXLEN, MINID) does not move max-deleted-entry-id, only XDEL does:
  -- entries removed by trimming show as entries-added > length, and all precede the first entry kept.
  if f['entries-added'] and f['entries-added'] > f['length'] then trimmed = 1 end
  if f['first-entry'] then firstKept = f['first-entry'][1] end
  lastGenerated = f['last-generated-id'] or false
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], '+')
end
return {h[1], h[2], exists, maxDeleted, entries, trimmed, firstKept, lastGenerated}
`

type ReadReply = [string | null, string | null, number, string | null, Array<[string, string[]]>, number, string | null, string | null]

/** The id just before `id`: the newest an entry trimmed before `id` can have. */
export function previousStreamId (id: string): string {
  const [ms = '0', seq = '0'] = id.split('-')
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`
  if (BigInt(ms) > 0n) return `${BigInt(ms) - 1n}-18446744073709551615`
  return '0-0'
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    trainingCommit(stateKey: string, historyKey: string, version: number, state: string, message: string,
      channel: string, maxLen: number, maxAgeMs: number, ttlMs: number): Result<[number, string], Context>
    trainingRead(stateKey: string, historyKey: string, afterId: string): Result<ReadReply, Context>
  }
}

/** Prepends the stream id to a message stored without it: `{"id":"…",` + rest. */
export function withId (id: string, message: string): string {
  return `{"id":"${id}",${message.slice(1)}`
}

export class RedisJobStore implements JobStore {
  readonly #redis: Redis
  readonly #options: StoreOptions

  constructor (redis: Redis, options: StoreOptions) {
    this.#redis = redis
    this.#options = options
    redis.defineCommand('trainingCommit', { numberOfKeys: 2, lua: COMMIT_SCRIPT })
    redis.defineCommand('trainingRead', { numberOfKeys: 2, lua: READ_SCRIPT })
  }

  #key (tenantId: string, jobId: string, kind: string): string {
    return `${this.#options.prefix}{${tenantId}/${jobId}}:${kind}`
  }

  channel (tenantId: string, jobId: string): string {
    return this.#key(tenantId, jobId, 'live')
  }

  async load (tenantId: string, jobId: string): Promise<LoadedJob> {
    const [state = null, version = null] = await this.#redis.hmget(this.#key(tenantId, jobId, 'state'), 's', 'v')
    return {
      state: state === null ? initialJobState(tenantId, jobId) : JSON.parse(state) as JobState,
      version: version === null ? 0 : Number(version)
    }
  }

  async commit (tenantId: string, jobId: string, expectedVersion: number, state: JobState, message: string): Promise<CommitResult> {
    const o = this.#options
    const [ok, id] = await this.#redis.trainingCommit(
      this.#key(tenantId, jobId, 'state'), this.#key(tenantId, jobId, 'history'),
      expectedVersion, JSON.stringify(state), message, this.channel(tenantId, jobId),
      o.historyMaxLength, o.historyMaxAgeMs, o.jobTtlMs)
    return ok === 1 ? { ok: true, id } : { ok: false }
  }

  async read (tenantId: string, jobId: string, afterId: string | null): Promise<JobHistoryRead> {
    const [state, lastId, exists, maxDeleted, entries, trimmed, firstKept, lastGenerated] = await this.#redis.trainingRead(
      this.#key(tenantId, jobId, 'state'), this.#key(tenantId, jobId, 'history'), afterId ?? '')
    let maxDeletedId = maxDeleted === null || maxDeleted === '0-0' ? null : maxDeleted
    if (trimmed === 1) {
      // Every entry was trimmed: up to the last one added; else up to just before the first kept.
      const trimmedUpTo = firstKept === null ? lastGenerated : previousStreamId(firstKept)
      if (trimmedUpTo !== null && (maxDeletedId === null || compareStreamIds(trimmedUpTo, maxDeletedId) > 0)) maxDeletedId = trimmedUpTo
    }
    return {
      state: state === null ? initialJobState(tenantId, jobId) : JSON.parse(state) as JobState,
      lastId,
      historyExists: exists === 1,
      maxDeletedId,
      messages: entries.map(([id, fields]: [string, string[]]) => ({ id, raw: withId(id, fields[1] ?? '{}') }))
    }
  }
}

/** True when `read` holds every message after `afterId`: none was trimmed past it, and it is not beyond the history. */
export function reachesBack (read: JobHistoryRead, afterId: string): boolean {
  return read.historyExists &&
    (read.maxDeletedId === null || compareStreamIds(read.maxDeletedId, afterId) <= 0) &&
    (read.lastId === null || compareStreamIds(afterId, read.lastId) <= 0)
}
