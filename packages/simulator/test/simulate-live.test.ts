/**
 * simulate() against a real RabbitMQ and a real training service: every job
 * reaches the end its plan says, as a live WebSocket client of the training
 * service sees it, and a stopped run leaves no job running.
 */
import t from 'tap'
import { LIVE_MESSAGE_TYPE, compareStreamIds, productsProgress } from '@training-live/events'
import { createPublisher } from '@training-live/events/publisher'
import {
  AMQP_URL, LiveClient, deleteKeys, deleteTopology, liveUrl, mintToken, startService, testTopology, uniqueId, within,
  type Received
} from '@training-live/test-kit'
import { jobIdOf, planBatch } from '../src/plan.ts'
import { STOPPED_ERROR, simulate } from '../src/simulate.ts'

const topology = testTopology('simulator')
const training = await startService('training', { env: topology.env })
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await training.stop()
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

/** A live socket on the job, once its snapshot arrived. */
async function watch (tenantId: string, jobId: string): Promise<LiveClient> {
  const client = new LiveClient(liveUrl(training.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
  clients.push(client)
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

/** Waits until the service closes the job's socket (it does so after the terminal event) and returns the live events. */
async function ending (client: LiveClient): Promise<Received[]> {
  const closed = await within(client.closedPromise, 30_000, 'the job to finish')
  if (closed.code !== 1000) throw new Error(`closed ${closed.code} ${closed.reason}`)
  return client.events
}

t.test('every job reaches 100 % completed or fails where its plan says', async t => {
  const tenantId = uniqueId('tenant')
  const settings = { tenantId, jobs: 4, products: 6, failRatio: 0.5, seed: 2024, jobIdPrefix: uniqueId('job'), rate: 200 }
  const plans = planBatch(settings)
  const watchers = await Promise.all(plans.map(p => watch(tenantId, p.jobId)))

  const summary = await simulate({ ...settings, url: AMQP_URL, exchange: topology.exchange })
  t.match(summary, { completed: 2, failed: 2, stopped: 0, notStarted: 0 })

  for (const [i, plan] of plans.entries()) {
    const events = await ending(watchers[i] as LiveClient)
    const last = events.at(-1) as Received
    t.same(events.map(e => e.type), plan.events.map(e => LIVE_MESSAGE_TYPE[e.type]), `${plan.jobId}: every event live, in order`)
    const ids = events.map(e => e.id as string)
    t.ok(ids.every((id, k) => k === 0 || compareStreamIds(ids[k - 1] as string, id) < 0), 'ids increase')
    const progress = events.map(e => e.progress as number)
    t.ok(progress.every((p, k) => k === 0 || p >= (progress[k - 1] as number)), `progress never goes down: ${progress.join(' ')}`)
    t.equal(summary.jobs[i]?.outcome, plan.outcome)
    if (plan.outcome === 'completed') {
      t.match(last, { type: 'completed', progress: 100, data: { status: 'completed', products_completed: 6, total_products: 6 } })
    } else {
      const done = plan.productsCompleted.length
      t.ok(done < 6)
      t.match(last, { type: 'failed', progress: productsProgress(done, 6), data: { status: 'failed', products_completed: done } })
    }
  }
})

t.test('a stopped run fails the jobs under way; the jobs not started stay pending', async t => {
  const tenantId = uniqueId('tenant')
  const jobIdPrefix = uniqueId('job')
  const jobs = 20
  const watchers = await Promise.all(Array.from({ length: jobs }, (_, i) => watch(tenantId, jobIdOf(jobIdPrefix, i))))
  const publisher = await createPublisher({ url: AMQP_URL, exchange: topology.exchange })
  t.teardown(() => publisher.close())
  const controller = new AbortController()
  let confirmed = 0
  const summary = await simulate({
    tenantId,
    jobIdPrefix,
    jobs,
    products: 3,
    rate: 100,
    seed: 1,
    publisher,
    signal: controller.signal,
    onEvent: () => { if (++confirmed === 8) controller.abort() }
  })
  t.ok(summary.stopped > 0, `${summary.stopped} stopped, ${summary.notStarted} not started`)
  t.equal(summary.stopped + summary.notStarted, jobs)

  for (const [i, job] of summary.jobs.entries()) {
    const watcher = watchers[i] as LiveClient
    if (job.outcome === 'stopped') {
      const last = (await ending(watcher)).at(-1)
      t.match(last, { type: 'failed', data: { status: 'failed', error: STOPPED_ERROR } }, `${job.jobId} failed`)
    } else {
      const snapshot = await watch(tenantId, job.jobId)
      t.match(snapshot.messages[0], { type: 'connected', data: { status: 'pending' } }, `${job.jobId} untouched`)
      t.equal(watcher.closed, null)
    }
  }
})
