/**
 * The whole path through real processes: an AMQP publisher, two training
 * replicas, one gateway, plain WebSocket clients.
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPublisher } from '@training-live/events/publisher'
import type { TrainingEvent } from '@training-live/events'
import {
  LiveClient, deleteKeys, deleteTopology, jobEvents, liveUrl, mintToken, startService, testTopology, uniqueId,
  type Received
  , metricValue
} from '@training-live/test-kit'

const topology = testTopology('e2e')
const replicaA = await startService('training', { env: topology.env })
const replicaB = await startService('training', { env: topology.env })
const gateway = await startService('gateway', { env: { TRAINING_URLS: `${replicaA.url},${replicaB.url}` } })
const replicas = [replicaA, replicaB]
const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await publisher.close()
  await Promise.all([gateway.stop(), replicaA.stop(), replicaB.stop()])
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

async function watch (tenantId: string, jobId: string, query: Record<string, string> = {}, base = gateway.wsUrl): Promise<LiveClient> {
  const token = await mintToken({ tenantId })
  const client = new LiveClient(liveUrl(base, tenantId, jobId, { token, ...query }))
  clients.push(client)
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

async function publish (events: TrainingEvent[]): Promise<void> {
  for (const e of events) await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
}

/** Events consumed with `outcome`, over both replicas (only one of them is the active consumer). */
function consumed (replicas: Array<{ url: string }>, outcome: string): Promise<number> {
  return metricValue(replicas, 'training_events_total', `outcome="${outcome}"`)
}

function ids (messages: Received[]): string[] {
  return messages.filter(m => typeof m.id === 'string').map(m => m.id as string)
}

function assertIncreasing (t: Test, list: string[]) {
  for (let i = 1; i < list.length; i++) {
    const [am, as] = (list[i - 1] as string).split('-').map(BigInt)
    const [bm, bs] = (list[i] as string).split('-').map(BigInt)
    t.ok((bm as bigint) > (am as bigint) || (bm === am && (bs as bigint) > (as as bigint)), `id ${list[i]} follows ${list[i - 1]}`)
  }
}

t.test('happy path: 0 -> 20 -> 40 -> 60 -> 80 -> 100, then close 1000', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(tenantId, jobId)
  const snapshot = client.messages[0] as Received
  t.equal(snapshot.type, 'connected')
  t.match(snapshot, { job_id: jobId, tenant_id: tenantId, data: { status: 'pending', progress: 0, products_completed: 0, total_products: null, last_id: null } })

  const events = jobEvents(tenantId, jobId, ['alpha', 'beta', 'gamma'])
  await publish(events)
  const { code, reason } = await client.closedPromise
  t.equal(code, 1000, 'closed normally after completion')
  t.equal(reason, 'job finished')
  const live = client.events
  t.same(live.map(m => m.type), ['started', 'progress', 'product_completed', 'product_completed', 'product_completed', 'completed'])
  t.same(live.map(m => m.progress), [0, 20, 40, 60, 80, 100])
  t.same(live.map(m => m.data?.products_completed), [0, 0, 1, 2, 3, 3])
  t.same(live.map(m => m.data?.status), ['running', 'running', 'running', 'running', 'running', 'completed'])
  t.equal(live[2]?.data?.product_name, 'alpha')
  t.equal(live[2]?.data?.current_step, 'Trained alpha')
  t.equal(live[5]?.data?.total_duration, 1.5, 'event data forwarded')
  for (const m of live) t.match(m, { job_id: jobId, tenant_id: tenantId, timestamp: String })
  assertIncreasing(t, ids(live))
})

t.test('clients on both replicas and through the gateway see the same ids', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const watchers = [
    await watch(tenantId, jobId), await watch(tenantId, jobId),
    await watch(tenantId, jobId, {}, replicaA.wsUrl), await watch(tenantId, jobId, {}, replicaB.wsUrl)
  ]
  await publish(jobEvents(tenantId, jobId, ['p1', 'p2']))
  await Promise.all(watchers.map(w => w.closedPromise))
  const first = ids(watchers[0]?.messages ?? [])
  t.equal(first.length, 5)
  for (const w of watchers) {
    t.same(ids(w.messages), first, 'same ids in the same order')
    t.equal(w.closed?.code, 1000)
  }
})

t.test('duplicate event ids and out-of-order products', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(tenantId, jobId)
  const [started, progress, a, b, c, d, completed] = jobEvents(tenantId, jobId, ['a', 'b', 'c', 'd']) as TrainingEvent[]
  // d and b finish before a and c; b and the started event are redelivered/republished.
  await publish([started!, progress!, d!, b!, b!, started!, a!, { ...a!, event_id: randomUUID() }, c!, c!])
  await client.waitFor(m => m.filter(x => x.type === 'product_completed').length >= 5, 10_000, 'five product messages')
  await publish([completed!])
  await client.closedPromise
  const live = client.events
  t.same(live.map(m => m.type), ['started', 'progress', 'product_completed', 'product_completed', 'product_completed', 'product_completed', 'product_completed', 'completed'],
    'duplicate ids delivered once; a product completed twice under two ids is delivered twice')
  t.same(live.map(m => m.progress), [0, 20, 35, 50, 65, 65, 80, 100], 'distinct products counted once, never decreasing')
  t.same(live.map(m => m.data?.products_completed), [0, 0, 1, 2, 3, 3, 4, 4])
  t.equal(await consumed(replicas, 'duplicate') >= 3, true, 'duplicates counted')
})

t.test('a late joiner gets the snapshot, then live events', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const first = await watch(tenantId, jobId)
  const events = jobEvents(tenantId, jobId, ['x', 'y', 'z'])
  await publish(events.slice(0, 4))
  await first.waitFor(m => m.some(x => x.progress === 60), 10_000, '60%')
  const lastId = first.events.at(-1)?.id

  const late = await watch(tenantId, jobId)
  t.match(late.messages[0], {
    type: 'connected',
    data: { status: 'running', progress: 60, products_completed: 2, total_products: 3, current_step: 'Trained y', last_id: lastId }
  })
  t.notOk('recovered' in (late.messages[0]?.data ?? {}), 'recovered only when last_id was sent')
  await publish(events.slice(4))
  // Both to the end: the first client may get the last event after the late one does.
  await Promise.all([late.closedPromise, first.closedPromise])
  t.same(late.events.map(m => m.progress), [80, 100], 'only what came after the snapshot')
  t.same(ids(late.messages), ids(first.messages).slice(4))
})

t.test('resume with last_id after a disconnect: every missed event once, in order', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const events = jobEvents(tenantId, jobId, ['m1', 'm2', 'm3', 'm4'])
  const before = await watch(tenantId, jobId)
  await publish(events.slice(0, 3))
  await before.waitFor(m => m.filter(x => x.id).length === 3, 10_000, 'three events')
  const lastId = before.events.at(-1)?.id as string
  before.close()
  await before.closedPromise

  await publish(events.slice(3, 5))
  // Wait until the missed events are applied (another watcher sees 65%) before resuming.
  const observer = await watch(tenantId, jobId)
  await observer.waitFor(m => m.some(x => (x.progress ?? x.data?.progress) === 65), 10_000, '65%')

  const resumed = await watch(tenantId, jobId, { last_id: lastId })
  t.match(resumed.messages[0], { type: 'connected', data: { recovered: true, progress: 65, last_id: String } })
  await resumed.waitFor(m => m.filter(x => x.id).length === 2, 10_000, 'the two missed events')
  await publish(events.slice(5))
  await resumed.closedPromise
  const got = resumed.events
  t.same(got.map(m => m.progress), [50, 65, 80, 100], 'missed events, then live ones')
  t.equal(new Set(ids(got)).size, got.length, 'no duplicate')
  assertIncreasing(t, [lastId, ...ids(got)])
  const history = await collectAll(tenantId, jobId)
  t.same(ids(got), ids(history).slice(3), 'exactly the history after last_id')
})

/** The job's whole history, read by resuming from the start. */
async function collectAll (tenantId: string, jobId: string): Promise<Received[]> {
  const client = await watch(tenantId, jobId, { last_id: '0-0' })
  await client.closedPromise
  return client.events
}

t.test('events after a terminal event are dropped', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const events = jobEvents(tenantId, jobId, ['only'])
  const client = await watch(tenantId, jobId)
  await publish(events)
  await client.closedPromise
  const terminalBefore = await consumed(replicas, 'terminal')
  const [, , product] = events
  await publish([
    { ...product!, event_id: randomUUID(), data: { product_name: 'late', total_products: 1 } } as TrainingEvent,
    { event_id: randomUUID(), type: 'training.failed', tenant_id: tenantId, job_id: jobId, timestamp: new Date().toISOString(), data: { error: 'too late' } }
  ])
  for (let i = 0; i < 100 && await consumed(replicas, 'terminal') < terminalBefore + 2; i++) await sleep(50)
  t.equal(await consumed(replicas, 'terminal'), terminalBefore + 2, 'both late events consumed and dropped')

  const late = await watch(tenantId, jobId)
  t.match(late.messages[0], { type: 'connected', data: { status: 'completed', progress: 100, products_completed: 1 } })
  t.equal((await late.closedPromise).code, 1000, 'a finished job closes right after the snapshot')
  const history = await collectAll(tenantId, jobId)
  t.same(history.map(m => m.type), ['started', 'progress', 'product_completed', 'completed'], 'nothing after completed')
})

t.test('a failed job keeps its progress and says why', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(tenantId, jobId)
  const events = jobEvents(tenantId, jobId, ['f1', 'f2'])
  await publish(events.slice(0, 3))
  await publish([{ event_id: randomUUID(), type: 'training.failed', tenant_id: tenantId, job_id: jobId, timestamp: new Date().toISOString(), data: { error: 'GPU lost' } }])
  await client.closedPromise
  t.equal(client.closed?.code, 1000)
  const last = client.events.at(-1)
  t.match(last, { type: 'failed', progress: 50, data: { status: 'failed', error: 'GPU lost' } })
  const late = await watch(tenantId, jobId)
  t.match(late.messages[0]?.data, { status: 'failed', progress: 50, error: 'GPU lost' })
})

t.test('tenants are isolated even with the same job id', async t => {
  const jobId = uniqueId('job')
  const tenantA = uniqueId('tenantA')
  const tenantB = uniqueId('tenantB')
  const a = await watch(tenantA, jobId)
  const b = await watch(tenantB, jobId)
  await publish(jobEvents(tenantA, jobId, ['only-a']))
  await a.closedPromise
  await publish(jobEvents(tenantB, jobId, ['b1', 'b2']).slice(0, 2))
  await b.waitFor(m => m.some(x => x.type === 'progress'), 10_000, 'tenant B progress')
  t.same(b.events.map(m => m.type), ['started', 'progress'], 'tenant B saw only its own events')
  t.ok(b.events.every(m => m.tenant_id === tenantB))
  const lateB = await watch(tenantB, jobId)
  t.match(lateB.messages[0]?.data, { status: 'running', progress: 20, total_products: 2 })
})
