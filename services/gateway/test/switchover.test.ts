/**
 * No gap and no duplicate at the switch from history to live: clients join
 * (and resume) while a job's events are streaming in.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createPublisher } from '@training-live/events/publisher'
import {
  LiveClient, deleteKeys, deleteTopology, liveUrl, mintToken, startService, testTopology, uniqueId
} from '@training-live/test-kit'

const EVENTS = 300
const JOINERS = 12

const topology = testTopology('switch')
const training = await startService('training', { env: topology.env })
const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url } })
const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await publisher.close()
  await Promise.all([gateway.stop(), training.stop()])
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

t.test('clients joining mid-stream with last_id=0-0 get every event once, in order', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const token = await mintToken({ tenantId })
  const base = { tenant_id: tenantId, job_id: jobId }
  const first = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))
  clients.push(first)
  await first.opened

  const publishing = (async () => {
    await publisher.publish('training.started', { ...base, data: { total_products: EVENTS } })
    for (let i = 0; i < EVENTS; i++) {
      await publisher.publish('training.product.completed', { ...base, event_id: randomUUID(), data: { product_name: `p${i}`, total_products: EVENTS } })
    }
    await publisher.publish('training.completed', { ...base, data: {} })
  })()

  // Join while events are being applied, from the start of the history.
  const joiners: LiveClient[] = []
  for (let i = 0; i < JOINERS; i++) {
    await first.waitFor(m => m.length > (i + 1) * (EVENTS / JOINERS / 2), 20_000, `event ${i}`)
    const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token, last_id: '0-0' }))
    clients.push(client)
    joiners.push(client)
  }
  await publishing
  await Promise.all([first, ...joiners].map(c => c.closedPromise))

  const expected = first.events.map(m => m.id)
  t.equal(expected.length, EVENTS + 2, 'the first client saw every event')
  t.same(first.events.map(m => m.progress).slice(-2), [80, 100])
  for (const [i, client] of joiners.entries()) {
    t.equal(client.messages[0]?.type, 'connected')
    t.equal(client.messages[0]?.data?.recovered, true)
    t.same(client.events.map(m => m.id), expected, `joiner ${i}: every id once, in order`)
    t.equal(client.closed?.code, 1000)
  }
})
