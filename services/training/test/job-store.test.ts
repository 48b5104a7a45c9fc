/**
 * RedisJobStore and EventApplier against a real Redis, without a process:
 * compare-and-set commits, ids, pub/sub messages, reads after an id, key
 * names and TTLs, the incremental layout (scalars in a hash, ids and
 * products in sets), duplicates and per-job ordering under concurrency.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { compareStreamIds, initialJobState, reduceEvents, snapshotOf, summaryOf, type JobState, type TrainingEvent } from '@training-live/events'
import { REDIS_URL, deleteKeys, jobEvents, uniqueId } from '@training-live/test-kit'
import { NEW_JOB_VERSION, RedisJobStore, previousStreamId, type CommitBatch, type StoreOptions } from '../src/job-store.ts'
import { EventApplier } from '../src/event-applier.ts'

const prefix = `test:${uniqueId('jobstore')}:`
const options: StoreOptions = { prefix, historyMaxLength: 1000, historyMaxAgeMs: 24 * 3600 * 1000, jobTtlMs: 3600 * 1000 }
const redis = new Redis(REDIS_URL)
const subscriber = new Redis(REDIS_URL)
const store = new RedisJobStore(redis, options)

t.teardown(async () => {
  await deleteKeys(prefix)
  redis.disconnect()
  subscriber.disconnect()
})

/** The commit for some events applied (by the pure reducer) to `state`: messages as the store keeps them, without id. */
function reduce (state: JobState, ...events: TrainingEvent[]): CommitBatch {
  const next = reduceEvents(state, events)
  if (next.messages.length !== events.length) throw new Error('an event was unexpectedly dropped')
  return {
    state: next.state,
    messages: next.messages.map(m => JSON.stringify(m)),
    newEventIds: next.state.event_ids.filter(id => !state.event_ids.includes(id)),
    newProducts: next.state.products.filter(p => !state.products.includes(p))
  }
}

/** The id a successful commit ended on (the job's new version). */
function lastOf (committed: { ok: boolean, ids?: string[] }): string {
  if (!committed.ok || committed.ids === undefined) throw new Error('commit failed')
  return committed.ids.at(-1) as string
}

/** Subscribes to a job's channel and records every published message. */
async function listen (channel: string): Promise<{ messages: string[], next: (count: number) => Promise<string[]> }> {
  const messages: string[] = []
  let wake = () => {}
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return
    messages.push(message)
    wake()
  })
  await subscriber.subscribe(channel)
  return {
    messages,
    async next (count) {
      const deadline = Date.now() + 10_000
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} messages on ${channel}`)
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, 200)
          wake = () => { clearTimeout(timer); resolve() }
        })
      }
      return messages
    }
  }
}

function assertIncreasing (t: { ok: (value: unknown, message: string) => unknown }, ids: string[]): void {
  for (let i = 1; i < ids.length; i++) {
    t.ok(compareStreamIds(ids[i] as string, ids[i - 1] as string) > 0, `id ${ids[i]} follows ${ids[i - 1]}`)
  }
}

t.test('a commit with a stale version is refused and changes nothing', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const [started, progress] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]

  const empty = await store.load(tenantId, jobId)
  t.same(empty, { state: initialJobState(tenantId, jobId), version: NEW_JOB_VERSION }, 'an unknown job loads as pending, new')

  const first = reduce(empty.state, started!)
  const version1 = lastOf(await store.commit(tenantId, jobId, NEW_JOB_VERSION, first))
  const afterFirst = await store.read(tenantId, jobId, '0-0')

  const second = reduce(empty.state, progress!)
  const stale = await store.commit(tenantId, jobId, NEW_JOB_VERSION, second)
  t.same(stale, { ok: false }, 'the new-job version is stale after one commit')

  const loaded = await store.load(tenantId, jobId)
  t.equal(loaded.version, version1, 'the version is the newest history id, unchanged by the refused commit')
  t.same(loaded.state, first.state, 'state unchanged by the refused commit')
  t.same(await store.read(tenantId, jobId, '0-0'), afterFirst, 'history unchanged by the refused commit')
  t.equal(afterFirst.messages.length, 1)

  // Two writers racing on the same version: exactly one wins.
  const next = reduce(first.state, progress!)
  const results = await Promise.all([1, 1, 1].map(() => store.commit(tenantId, jobId, version1, next)))
  t.equal(results.filter(r => r.ok).length, 1, 'one of three concurrent commits on the same version succeeds')
  t.not((await store.load(tenantId, jobId)).version, version1)
})

t.test('commits get increasing ids; the published message equals the history entry', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const channel = store.channel(tenantId, jobId)
  t.ok(channel.includes(tenantId) && channel.includes(jobId), 'channel names tenant and job')
  const live = await listen(channel)
  const [started, progress] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]

  const one = reduce(initialJobState(tenantId, jobId), started!)
  const c1 = lastOf(await store.commit(tenantId, jobId, NEW_JOB_VERSION, one))
  const two = reduce(one.state, progress!)
  const c2 = lastOf(await store.commit(tenantId, jobId, c1, two))
  assertIncreasing(t, [c1, c2])

  const published = await live.next(2)
  t.ok(published[0]?.startsWith(`{"id":"${c1}",`), 'first message starts with its id')
  t.ok(published[1]?.startsWith(`{"id":"${c2}",`), 'second message starts with its id')
  t.match(JSON.parse(published[1] as string), { id: c2, type: 'progress', progress: 20, job_id: jobId, tenant_id: tenantId })

  const all = await store.read(tenantId, jobId, '0-0')
  t.same(all.messages, [{ id: c1, raw: published[0] }, { id: c2, raw: published[1] }], 'history holds exactly what was published')
  t.equal(all.lastId, c2)
  t.equal(all.historyExists, true)
  t.equal(all.maxDeletedId, null, 'nothing trimmed')
  t.same(all.summary, summaryOf(two.state), 'the summary is the reducer\'s state, counted')
  t.same(snapshotOf(all.summary, all.lastId), snapshotOf(summaryOf(two.state), c2), 'the snapshot is the reducer\'s')

  const later = await store.read(tenantId, jobId, c1)
  t.same(later.messages, [{ id: c2, raw: published[1] }], 'read(afterId) returns only later entries')
  t.same((await store.read(tenantId, jobId, c2)).messages, [], 'nothing after the newest id')
  t.same((await store.read(tenantId, jobId, null)).messages, [], 'no history without an id')
  await subscriber.unsubscribe(channel)
})

t.test('one commit of several events: ids in order, each published, only new set members added; every key has the hash tag and expires', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const live = await listen(store.channel(tenantId, jobId))
  const events = jobEvents(tenantId, jobId, ['b', 'a', 'c'])
  const first = reduce(initialJobState(tenantId, jobId), ...events.slice(0, 3))
  const committed = await store.commit(tenantId, jobId, NEW_JOB_VERSION, first)
  if (!committed.ok) throw new Error('commit failed')
  t.equal(committed.ids.length, 3, 'an id per message')
  assertIncreasing(t, committed.ids)
  const published = await live.next(3)
  t.same(published.map(m => (JSON.parse(m) as { id: string }).id), committed.ids, 'published in order, with their ids')

  const rest = reduce(first.state, ...events.slice(3))
  t.same(rest.newProducts, ['a', 'c'])
  lastOf(await store.commit(tenantId, jobId, committed.ids.at(-1) as string, rest))
  const loaded = await store.load(tenantId, jobId)
  t.same(loaded.state, rest.state, 'load rebuilds the whole state, ids and products sorted')
  t.equal(loaded.state.products.length, 3)
  t.equal(loaded.state.event_ids.length, events.length)

  const read = await store.read(tenantId, jobId, null)
  t.same(read.summary, summaryOf(rest.state), 'a read gives the summary, without the sets')
  t.same(snapshotOf(read.summary, read.lastId), snapshotOf(summaryOf(rest.state), loaded.version), 'and so the reducer\'s snapshot')

  const keys = (await redis.keys(`${prefix}*`)).filter(k => k.includes(jobId)).sort()
  t.same(keys.map(k => k.slice(k.lastIndexOf(':') + 1)), ['history', 'ids', 'products', 'state'])
  const ttls = await Promise.all(keys.map(k => redis.pexpiretime(k)))
  for (const [i, key] of keys.entries()) {
    t.ok(key.startsWith(`${prefix}{${tenantId}/${jobId}}:`), `${key} has the prefix and the {tenant/job} hash tag`)
    const ttl = await redis.pttl(key)
    t.ok(ttl > 0 && ttl <= options.jobTtlMs, `${key} expires (pttl ${ttl})`)
    t.equal(ttls[i], ttls[0], `${key} expires at the same moment as the others`)
  }
  t.same((await redis.smembers(keys[1] as string)).sort(), [...loaded.state.event_ids])
  t.same((await redis.hkeys(keys[3] as string)).sort(), ['j', 'last'], 'the hash holds the scalar state and the version only')
})

t.test('a job created again after its state expired does not inherit old set members', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const [started, , product] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]
  const stateKey = `${prefix}{${tenantId}/${jobId}}:state`
  await redis.sadd(`${prefix}{${tenantId}/${jobId}}:products`, 'left-over')
  await redis.sadd(`${prefix}{${tenantId}/${jobId}}:ids`, product!.event_id)
  const one = reduce(initialJobState(tenantId, jobId), started!)
  lastOf(await store.commit(tenantId, jobId, NEW_JOB_VERSION, one))
  t.same((await store.load(tenantId, jobId)).state, one.state, 'the first commit of a job clears its sets')
  t.equal(await redis.exists(stateKey), 1)
})

t.test('EventApplier: the same event twice is applied once', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const applier = new EventApplier(store)
  const [started] = jobEvents(tenantId, jobId, ['a']) as TrainingEvent[]
  const first = await applier.apply(started!)
  t.equal(first.outcome, 'applied')
  const second = await applier.apply({ ...started! })
  t.same(second, { outcome: 'duplicate' })
  const read = await store.read(tenantId, jobId, '0-0')
  t.equal(read.messages.length, 1, 'one history entry')
  t.equal(applier.busyJobs, 0, 'no job left busy')
})

t.test('EventApplier: 20 concurrent product events of one job stay in order', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const applier = new EventApplier(store)
  const products = Array.from({ length: 20 }, (_, i) => `product-${String(i).padStart(2, '0')}`)
  const events = jobEvents(tenantId, jobId, products)
  const productEvents = events.filter(e => e.type === 'training.product.completed')
  t.equal((await applier.apply(events[0]!)).outcome, 'applied')

  const outcomes = await Promise.all(productEvents.map(e => applier.apply(e)))
  const ids = outcomes.map(o => {
    if (o.outcome !== 'applied') throw new Error(`unexpected outcome ${o.outcome}`)
    return o.id
  })
  t.equal(ids.length, 20)
  assertIncreasing(t, ids)

  const read = await store.read(tenantId, jobId, '0-0')
  t.equal(snapshotOf(read.summary, read.lastId).products_completed, 20, 'final products_completed 20')
  t.equal(read.summary.progress, 80)
  const history = read.messages.map(m => JSON.parse(m.raw) as { data: { products_completed: number, product_name?: string } })
  t.same(history.slice(1).map(m => m.data.products_completed), products.map((_, i) => i + 1), 'applied in call order')
  t.same(history.slice(1).map(m => m.data.product_name), products)
  t.same(read.messages.slice(1).map(m => m.id), ids)
  t.equal(applier.busyJobs, 0)
})

t.test('trimming is reported: maxDeletedId covers every trimmed entry', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const small = new RedisJobStore(redis, { ...options, historyMaxLength: 1 })
  let state = initialJobState(tenantId, jobId)
  let version = NEW_JOB_VERSION
  const ids: string[] = []
  const base = Date.now()
  for (let i = 0; i < 250; i++) {
    const event: TrainingEvent = {
      event_id: `e${i}`, type: 'training.progress', tenant_id: tenantId, job_id: jobId, timestamp: new Date(base + i).toISOString(), data: { step: 'Data Analysis' }
    }
    const next = reduce(state, event)
    version = lastOf(await small.commit(tenantId, jobId, version, next))
    ids.push(version)
    state = next.state
  }
  const read = await small.read(tenantId, jobId, ids[0] as string)
  const kept = read.messages.length
  t.ok(kept > 0 && kept < 249, `approximate trimming removed whole nodes (${kept} entries after the first left)`)
  const firstKept = read.messages[0]?.id as string
  t.same(read.messages.map(m => m.id), ids.slice(ids.indexOf(firstKept)), 'what is left is a suffix of the history')
  t.equal(read.maxDeletedId, previousStreamId(firstKept), 'trimmed up to just before the first entry kept')
  t.ok(compareStreamIds(read.maxDeletedId as string, ids[0] as string) >= 0, 'the first id is known to be trimmed')
  t.equal((await small.read(tenantId, jobId, null)).maxDeletedId, null, 'no XINFO without an id')

  const untouched = uniqueId('job')
  const one = reduce(initialJobState(tenantId, untouched), { event_id: 'x', type: 'training.started', tenant_id: tenantId, job_id: untouched, timestamp: new Date().toISOString(), data: { total_products: 1 } })
  t.equal((await small.commit(tenantId, untouched, NEW_JOB_VERSION, one)).ok, true)
  t.equal((await small.read(tenantId, untouched, '0-0')).maxDeletedId, null, 'nothing trimmed from a short history')
})

t.test('previousStreamId', async t => {
  t.equal(previousStreamId('5-3'), '5-2')
  t.equal(previousStreamId('5-0'), '4-18446744073709551615')
  t.equal(previousStreamId('0-0'), '0-0')
  t.equal(previousStreamId('1795443224275-22'), '1795443224275-21')
})
