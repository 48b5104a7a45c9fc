/**
 * Job state and history in Redis, written incrementally. Per job, all keys
 * sharing the `{tenant/job}` hash tag so the scripts stay valid on Redis Cluster:
 *
 * - `:state`, a hash: `j`, the reducer's state without its two growing lists
 *   (JSON, with `products_completed` in their place), and `last`, the newest
 *   history id, which is also the version the commits compare-and-set on:
 *   every commit changes it and, stream ids being time-ordered, it never repeats;
 * - `:ids`, a set of the ids of every event applied (duplicates are found there);
 * - `:products`, a set of the distinct product names completed;
 * - `:history`, a stream of the job's live messages.
 *
 * A commit adds only what the events it carries added, so its cost does not
 * grow with the job; a snapshot read touches the hash only. Rebuilding the
 * whole JobState (the two sets, sorted) happens only when a job is loaded.
 */
import type { Result } from 'ioredis'
import type { RedisClient } from './redis-connection.ts'
import { compareStreamIds, initialJobState, summaryOf, type JobState, type JobSummary } from '@training-live/events'

export interface StoreOptions {
  prefix: string
  historyMaxLength: number
  historyMaxAgeMs: number
  jobTtlMs: number
}

/** The version of a job that was never committed. */
export const NEW_JOB_VERSION = ''

export interface LoadedJob {
  state: JobState
  /** The version to commit against: the newest history id, or NEW_JOB_VERSION. */
  version: string
}

/** What one commit writes: the outcome of one or more events of a job, in order. */
export interface CommitBatch {
  /** The state after the last event. Only its scalar fields and its products' count are written. */
  state: JobState
  /** Live messages without id (JSON), oldest first; at least one. */
  messages: string[]
  /** Event ids and product names that these events added. */
  newEventIds: string[]
  newProducts: string[]
}

/** On success, the history id of each message, in order; the last is the job's new version. */
export type CommitResult = { ok: true, ids: string[] } | { ok: false }

export interface JobHistoryRead {
  /** What a snapshot shows, read without the job's sets (`load` rebuilds the whole state). */
  summary: JobSummary
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
  /** The whole state of a job (its ids and products sorted) and its version. */
  load (tenantId: string, jobId: string): Promise<LoadedJob>
  /** Appends the messages to history, publishes them and writes the state, only if the version is unchanged. */
  commit (tenantId: string, jobId: string, expectedVersion: string, batch: CommitBatch): Promise<CommitResult>
  read (tenantId: string, jobId: string, afterId: string | null): Promise<JobHistoryRead>
  channel (tenantId: string, jobId: string): string
}

// KEYS: state, history, ids, products. ARGV: expected version, state JSON, channel, history max length,
// history max age (ms), ttl (ms), then the counts of messages, ids and products, then those values.
// Compare-and-set on the version keeps the pure reducer's decisions (duplicates, terminal status)
// atomic even if two consumers overlap during a failover. All keys get the same absolute expiry, so
// they expire together.
const COMMIT_SCRIPT = `
local last = redis.call('HGET', KEYS[1], 'last') or ''
if last ~= ARGV[1] then return {0} end
if last == '' then redis.call('DEL', KEYS[3], KEYS[4]) end
local nm, ni, np = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local ids = {1}
for i = 10, 9 + nm do
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'm', ARGV[i])
  ids[#ids + 1] = id
  redis.call('PUBLISH', ARGV[3], '{"id":"' .. id .. '",' .. string.sub(ARGV[i], 2))
end
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XTRIM', KEYS[2], 'MINID', string.format('%.0f', nowMs - tonumber(ARGV[5])))
if ni > 0 then redis.call('SADD', KEYS[3], unpack(ARGV, 10 + nm, 9 + nm + ni)) end
if np > 0 then redis.call('SADD', KEYS[4], unpack(ARGV, 10 + nm + ni, 9 + nm + ni + np)) end
redis.call('HSET', KEYS[1], 'j', ARGV[2], 'last', ids[#ids])
local expireAt = string.format('%.0f', nowMs + tonumber(ARGV[6]))
for k = 1, 4 do redis.call('PEXPIREAT', KEYS[k], expireAt) end
return ids
`

// The whole state at once: the hash and both sets agree with each other.
const LOAD_SCRIPT = `
local h = redis.call('HMGET', KEYS[1], 'j', 'last')
if not h[1] then return {false, h[2], {}, {}} end
return {h[1], h[2], redis.call('SMEMBERS', KEYS[2]), redis.call('SMEMBERS', KEYS[3])}
`

// One atomic read: the snapshot and the history after last_id agree with each other.
const READ_SCRIPT = `
local h = redis.call('HMGET', KEYS[1], 'j', 'last')
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

type LoadReply = [string | null, string | null, string[], string[]]
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
    trainingCommit(stateKey: string, historyKey: string, idsKey: string, productsKey: string,
      ...args: Array<string | number>): Result<[0] | [1, ...string[]], Context>
    trainingLoad(stateKey: string, idsKey: string, productsKey: string): Result<LoadReply, Context>
    trainingRead(stateKey: string, historyKey: string, afterId: string): Result<ReadReply, Context>
  }
}

/** Prepends the stream id to a message stored without it: `{"id":"…",` + rest. */
export function withId (id: string, message: string): string {
  return `{"id":"${id}",${message.slice(1)}`
}

/** The stored part of a state: its summary; the two lists live in sets. */
function storedState (state: JobState): string {
  return JSON.stringify(summaryOf(state))
}

/** UTF-16 code-unit order (sort's default for strings), as the reducer keeps its lists with `<`. */
function sorted (values: string[]): string[] {
  return values.sort()
}

export class RedisJobStore implements JobStore {
  readonly #redis: RedisClient
  readonly #options: StoreOptions

  constructor (redis: RedisClient, options: StoreOptions) {
    this.#redis = redis
    this.#options = options
    redis.defineCommand('trainingCommit', { numberOfKeys: 4, lua: COMMIT_SCRIPT })
    redis.defineCommand('trainingLoad', { numberOfKeys: 3, lua: LOAD_SCRIPT })
    redis.defineCommand('trainingRead', { numberOfKeys: 2, lua: READ_SCRIPT })
  }

  #key (tenantId: string, jobId: string, kind: string): string {
    return `${this.#options.prefix}{${tenantId}/${jobId}}:${kind}`
  }

  channel (tenantId: string, jobId: string): string {
    return this.#key(tenantId, jobId, 'live')
  }

  async load (tenantId: string, jobId: string): Promise<LoadedJob> {
    const [json, last, ids, products] = await this.#redis.trainingLoad(
      this.#key(tenantId, jobId, 'state'), this.#key(tenantId, jobId, 'ids'), this.#key(tenantId, jobId, 'products'))
    const version = last ?? NEW_JOB_VERSION
    if (json === null) return { state: initialJobState(tenantId, jobId), version }
    const { products_completed: _count, ...rest } = JSON.parse(json) as JobSummary
    return { state: { ...rest, products: sorted(products), event_ids: sorted(ids) }, version }
  }

  async commit (tenantId: string, jobId: string, expectedVersion: string, batch: CommitBatch): Promise<CommitResult> {
    if (batch.messages.length === 0) throw new Error('a commit carries at least one message')
    const o = this.#options
    const reply = await this.#redis.trainingCommit(
      this.#key(tenantId, jobId, 'state'), this.#key(tenantId, jobId, 'history'),
      this.#key(tenantId, jobId, 'ids'), this.#key(tenantId, jobId, 'products'),
      expectedVersion, storedState(batch.state), this.channel(tenantId, jobId),
      o.historyMaxLength, o.historyMaxAgeMs, o.jobTtlMs,
      batch.messages.length, batch.newEventIds.length, batch.newProducts.length,
      ...batch.messages, ...batch.newEventIds, ...batch.newProducts)
    return reply[0] === 1 ? { ok: true, ids: reply.slice(1) as string[] } : { ok: false }
  }

  async read (tenantId: string, jobId: string, afterId: string | null): Promise<JobHistoryRead> {
    const [json, lastId, exists, maxDeleted, entries, trimmed, firstKept, lastGenerated] = await this.#redis.trainingRead(
      this.#key(tenantId, jobId, 'state'), this.#key(tenantId, jobId, 'history'), afterId ?? '')
    let maxDeletedId = maxDeleted === null || maxDeleted === '0-0' ? null : maxDeleted
    if (trimmed === 1) {
      // Every entry was trimmed: up to the last one added; else up to just before the first kept.
      const trimmedUpTo = firstKept === null ? lastGenerated : previousStreamId(firstKept)
      if (trimmedUpTo !== null && (maxDeletedId === null || compareStreamIds(trimmedUpTo, maxDeletedId) > 0)) maxDeletedId = trimmedUpTo
    }
    return {
      summary: json === null ? summaryOf(initialJobState(tenantId, jobId)) : JSON.parse(json) as JobSummary,
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
