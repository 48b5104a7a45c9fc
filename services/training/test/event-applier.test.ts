/**
 * EventApplier against a real Redis, without a process: group commit, the
 * compare-and-set miss when another writer got in, the bounds of the state
 * cache, a large job, Redis errors, and that it gives exactly what the pure
 * reducer gives for any sequence of events, however they are batched.
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { compareStreamIds, initialJobState, reduceEvents, snapshotOf, type TrainingEvent } from '@training-live/events'
import { REDIS_URL, deleteKeys, jobEvents, uniqueId } from '@training-live/test-kit'
import { RedisJobStore, type CommitBatch, type JobStore, type StoreOptions } from '../src/job-store.ts'
import { EventApplier, type ApplierOptions, type ApplyOutcome } from '../src/event-applier.ts'

const prefix = `test:${uniqueId('applier')}:`
const options: StoreOptions = { prefix, historyMaxLength: 100_000, historyMaxAgeMs: 24 * 3600 * 1000, jobTtlMs: 3600 * 1000 }
const redis = new Redis(REDIS_URL)
const redisStore = new RedisJobStore(redis, options)

t.teardown(async () => {
  await deleteKeys(prefix)
  redis.disconnect()
})

/** The Redis store, counting loads and commits; `failNextCommit` makes the next commit throw after it was written. */
class CountingStore implements JobStore {
  loads = 0
  commits = 0
  failNextCommit = false

  load (tenantId: string, jobId: string) {
    this.loads++
    return redisStore.load(tenantId, jobId)
  }

  async commit (tenantId: string, jobId: string, expectedVersion: string, batch: CommitBatch) {
    this.commits++
    const result = await redisStore.commit(tenantId, jobId, expectedVersion, batch)
    if (this.failNextCommit) {
      this.failNextCommit = false
      throw new Error('connection lost before the reply')
    }
    return result
  }

  read (tenantId: string, jobId: string, afterId: string | null) {
    return redisStore.read(tenantId, jobId, afterId)
  }

  channel (tenantId: string, jobId: string) {
    return redisStore.channel(tenantId, jobId)
  }
}

/** A new job, and an applier over a store that counts. */
function newJob (options: Partial<ApplierOptions> = {}) {
  const store = new CountingStore()
  return { tenantId: uniqueId('tenant'), jobId: uniqueId('job'), store, applier: new EventApplier(store, options) }
}

function idsOf (outcomes: ApplyOutcome[]): string[] {
  return outcomes.map(o => {
    if (o.outcome !== 'applied') throw new Error(`unexpected outcome ${o.outcome}`)
    return o.id
  })
}

function assertIncreasing (t: Test, ids: string[]): void {
  const bad = ids.findIndex((id, i) => i > 0 && compareStreamIds(id, ids[i - 1] as string) <= 0)
  t.equal(bad, -1, `${ids.length} ids strictly increasing`)
}

/** The job's history, as messages without their ids (as the reducer makes them). */
async function historyBodies (tenantId: string, jobId: string): Promise<unknown[]> {
  const read = await redisStore.read(tenantId, jobId, '0-0')
  return read.messages.map(m => {
    const { id: _id, ...body } = JSON.parse(m.raw) as Record<string, unknown>
    return body
  })
}

t.test('group commit: a burst of one job is applied in order, once each, in fewer commits than events', async t => {
  const { tenantId, jobId, store, applier } = newJob({ maxBatch: 50 })
  const products = Array.from({ length: 297 }, (_, i) => `product-${String(i).padStart(3, '0')}`)
  const events = jobEvents(tenantId, jobId, products)
  // Every tenth event arrives twice in the burst, right after itself.
  const burst = events.flatMap((e, i) => i % 10 === 5 ? [e, { ...e }] : [e])

  const outcomes = await Promise.all(burst.map(e => applier.apply(e)))
  const applied = outcomes.filter(o => o.outcome === 'applied')
  t.equal(applied.length, events.length, 'each event applied once')
  t.equal(outcomes.filter(o => o.outcome === 'duplicate').length, burst.length - events.length, 'each repeat is a duplicate')
  assertIncreasing(t, idsOf(applied))

  const history = await historyBodies(tenantId, jobId)
  t.same(history, reduceEvents(initialJobState(tenantId, jobId), events).messages.map(m => JSON.parse(JSON.stringify(m))),
    'the history is the reducer\'s messages, in publish order')
  t.ok(store.commits < events.length, `${store.commits} commits for ${events.length} events`)
  t.ok(store.commits >= Math.ceil(events.length / 50), 'no commit holds more than maxBatch events')
  t.equal(store.loads, 1, 'the job was loaded once')
  t.equal(applier.busyJobs, 0, 'no job left busy')
  t.equal(applier.cachedJobs, 0, 'a completed job is not kept in the cache')
})

t.test('another writer bumps the version: the cached state is dropped, reloaded, and the event applied on top', async t => {
  const { tenantId, jobId, store, applier } = newJob()
  const other = new EventApplier(redisStore)
  const [started, progress, p1, p2, p3, completed] = jobEvents(tenantId, jobId, ['a', 'b', 'c']) as TrainingEvent[]

  idsOf(await Promise.all([applier.apply(started!), applier.apply(progress!)]))
  t.equal(applier.cachedJobs, 1, 'the job is cached')
  const loadsBefore = store.loads

  // A second consumer (an overlap in a failover) applies p1, then a copy of it comes to the first.
  t.equal((await other.apply(p1!)).outcome, 'applied')
  t.same(await applier.apply({ ...p1! }), { outcome: 'duplicate' }, 'seen by the other writer: a duplicate after reloading')
  t.equal(store.loads, loadsBefore + 1, 'reloaded once, on the compare-and-set miss')

  t.equal((await other.apply(p2!)).outcome, 'applied')
  t.equal((await applier.apply(p3!)).outcome, 'applied', 'applied on top of what the other wrote')
  t.equal((await applier.apply(completed!)).outcome, 'applied')

  const all = [started!, progress!, p1!, p2!, p3!, completed!]
  t.same(await historyBodies(tenantId, jobId), reduceEvents(initialJobState(tenantId, jobId), all).messages.map(m => JSON.parse(JSON.stringify(m))),
    'history in order, each event once, progress computed over both writers\' events')
  const read = await redisStore.read(tenantId, jobId, null)
  t.match(snapshotOf(read.summary, read.lastId), { status: 'completed', progress: 100, products_completed: 3, total_products: 3 })
})

t.test('the cache is bounded by jobs and by members; an evicted job is reloaded and still deduplicates', async t => {
  const tenantId = uniqueId('tenant')
  const store = new CountingStore()
  const applier = new EventApplier(store, { cacheMaxJobs: 5, cacheMaxMembers: 1_000 })
  const jobs = Array.from({ length: 20 }, () => jobEvents(tenantId, uniqueId('job'), ['a', 'b']))
  for (const events of jobs) idsOf(await Promise.all(events.slice(0, 3).map(e => applier.apply(e))))
  t.equal(applier.cachedJobs, 5, 'at most cacheMaxJobs idle jobs are kept')
  t.equal(store.loads, 20)

  // The first job was evicted: its state is loaded again, and a repeated event is still a duplicate.
  const first = jobs[0] as TrainingEvent[]
  t.same(await applier.apply({ ...first[2]! }), { outcome: 'duplicate' })
  t.equal(store.loads, 21, 'an evicted job is loaded again')
  t.equal((await applier.apply(first[3]!)).outcome, 'applied')
  t.equal(store.loads, 21, 'and then served from the cache')
  t.equal((await applier.apply(first[4]!)).outcome, 'applied', 'completed')
  t.equal(applier.cachedJobs, 4, 'a terminal job leaves the cache')

  // By members: each job here holds 3 ids + 1 product (+1), so 12 members fit two of them.
  const small = new EventApplier(store, { cacheMaxJobs: 100, cacheMaxMembers: 12 })
  for (let i = 0; i < 5; i++) {
    const events = jobEvents(tenantId, uniqueId('job'), ['a', 'b'])
    idsOf(await Promise.all(events.slice(0, 3).map(e => small.apply(e))))
  }
  t.equal(small.cachedJobs, 2, 'at most cacheMaxMembers ids and products are kept')
})

t.test('a large job: 5,000 products, the snapshot and the reloaded state are right', async t => {
  const { tenantId, jobId, store, applier } = newJob()
  const products = Array.from({ length: 5000 }, () => randomUUID())
  const events = jobEvents(tenantId, jobId, products)
  const running = events.slice(0, -1)
  const outcomes = await Promise.all(running.map(e => applier.apply(e)))
  assertIncreasing(t, idsOf(outcomes))
  t.ok(store.commits < running.length, `${store.commits} commits for ${running.length} events`)

  const read = await redisStore.read(tenantId, jobId, null)
  t.same(snapshotOf(read.summary, read.lastId), {
    status: 'running', progress: 80, products_completed: 5000, total_products: 5000, current_step: `Trained ${products.at(-1) as string}`, last_id: read.lastId
  })
  const expected = reduceEvents(initialJobState(tenantId, jobId), running).state
  t.same((await redisStore.load(tenantId, jobId)).state, expected, 'load rebuilds exactly the reducer\'s state')
  t.equal(await redis.scard(`${prefix}{${tenantId}/${jobId}}:products`), 5000)

  // A fresh applier (say, after a failover) rebuilds it once, then goes on.
  const fresh = new EventApplier(redisStore)
  t.same(await fresh.apply({ ...events[10]! }), { outcome: 'duplicate' })
  t.equal((await fresh.apply(events.at(-1)!)).outcome, 'applied')
  const done = await redisStore.read(tenantId, jobId, null)
  t.match(snapshotOf(done.summary, done.lastId), { status: 'completed', progress: 100, products_completed: 5000 })
})

t.test('a commit whose reply is lost: the batch is rejected, and the retry finds it applied', async t => {
  const { tenantId, jobId, store, applier } = newJob()
  const [started, progress] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]
  t.equal((await applier.apply(started!)).outcome, 'applied')
  store.failNextCommit = true
  await t.rejects(applier.apply(progress!), /connection lost/)
  t.same(await applier.apply(progress!), { outcome: 'duplicate' }, 'retried: it was written, so it is not applied twice')
  t.equal((await historyBodies(tenantId, jobId)).length, 2)
})

t.test('invalidate(): after Redis lost the data, the next event is applied to what Redis holds', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const applier = new EventApplier(redisStore)
  const [started, progress] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]
  idsOf(await Promise.all([applier.apply(started!), applier.apply(progress!)]))
  await redis.del(...['state', 'history', 'ids', 'products'].map(k => `${prefix}{${tenantId}/${jobId}}:${k}`))
  applier.invalidate()
  t.equal(applier.cachedJobs, 0)
  t.equal((await applier.apply({ ...started! })).outcome, 'applied', 'not taken for a duplicate of what Redis no longer has')
  t.equal((await historyBodies(tenantId, jobId)).length, 1)
})

/** A job's events (of a job named later) in any order, with repeats, sometimes a terminal event in the middle. */
function jobSequence () {
  const t0 = Date.parse('2025-10-08T12:00:00.000Z')
  const spec = fc.record({
    kind: fc.oneof(
      { weight: 2, arbitrary: fc.constant('training.started' as const) },
      { weight: 2, arbitrary: fc.constant('training.progress' as const) },
      { weight: 8, arbitrary: fc.constant('training.product.completed' as const) },
      { weight: 1, arbitrary: fc.constantFrom('training.completed' as const, 'training.failed' as const) }
    ),
    product: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6'),
    total: fc.integer({ min: 0, max: 8 }),
    ms: fc.integer({ min: 0, max: 1000 }),
    repeat: fc.boolean()
  })
  return fc.array(spec, { minLength: 1, maxLength: 40 }).map(specs => {
    const out: TrainingEvent[] = []
    for (const [i, s] of specs.entries()) {
      const base = { event_id: `e${i}`, tenant_id: 'tenant', job_id: 'job', timestamp: new Date(t0 + s.ms).toISOString() }
      const data = {
        'training.started': { total_products: s.total },
        'training.progress': { step: `step ${s.ms}` },
        'training.product.completed': { product_name: s.product, total_products: s.total },
        'training.completed': {},
        'training.failed': { error: 'boom' }
      }[s.kind]
      const event = { ...base, type: s.kind, data } as TrainingEvent
      out.push(event)
      if (s.repeat) out.splice(Math.floor(out.length / 2), 0, { ...event })
    }
    return out
  })
}

t.test('for any sequence and any batching, the applier gives exactly what the pure reducer gives', async t => {
  const tenantId = uniqueId('tenant')
  await fc.assert(fc.asyncProperty(
    jobSequence(),
    fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
    async (sequence, cuts) => {
      const jobId = uniqueId('job')
      const events = sequence.map(e => ({ ...e, tenant_id: tenantId, job_id: jobId }))
      const applier = new EventApplier(redisStore, { maxBatch: 3 })
      const outcomes: ApplyOutcome[] = []
      // Batches of the given sizes, each applied at once (so group commits of various sizes), one after another.
      for (let i = 0, c = 0; i < events.length; c++) {
        const size = cuts[c % cuts.length] as number
        outcomes.push(...await Promise.all(events.slice(i, i + size).map(e => applier.apply(e))))
        i += size
      }
      const expected = reduceEvents(initialJobState(tenantId, jobId), events)
      t.same(await historyBodies(tenantId, jobId), expected.messages.map(m => JSON.parse(JSON.stringify(m))), 'the same messages')
      t.same((await redisStore.load(tenantId, jobId)).state, expected.state, 'the same state')
      t.equal(outcomes.filter(o => o.outcome === 'applied').length, expected.messages.length, 'as many applied as messages')
      assertIncreasing(t, idsOf(outcomes.filter(o => o.outcome === 'applied')))
    }
  ), { numRuns: 25, seed: 20251008 })
})
