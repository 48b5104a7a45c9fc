/**
 * Invalid events against a real training process and a real broker: each is
 * dead-lettered (exactly its body), logged and counted, never blocks the
 * valid events behind it, and the topology is declared as the contract says.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import amqplib from 'amqplib'
import { createPublisher } from '@training-live/events/publisher'
import type { TrainingEvent } from '@training-live/events'
import {
  AMQP_URL, LiveClient, deleteKeys, deleteTopology, drainQueue, jobEvents, liveUrl, mintToken, startService, testTopology, uniqueId
  , eventually, metricValue
} from '@training-live/test-kit'

const topology = testTopology('deadletter')
const training = await startService('training', { env: topology.env })
const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await publisher.close()
  await training.stop()
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

/** The JSON log lines of the process with the given message. */
function logLines (msg: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const line of training.output().split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const entry = JSON.parse(line) as Record<string, unknown>
      if (entry.msg === msg) out.push(entry)
    } catch {}
  }
  return out
}

t.test('invalid events are dead-lettered, counted and logged; valid ones flow on', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const token = await mintToken({ tenantId })
  const client = new LiveClient(liveUrl(training.wsUrl, tenantId, jobId, { token }))
  clients.push(client)
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')

  const valid = jobEvents(tenantId, jobId, ['p1', 'p2', 'p3', 'p4', 'p5'])
  const base = () => ({ event_id: randomUUID(), tenant_id: tenantId, job_id: jobId, timestamp: new Date().toISOString() })
  const invalid: Array<{ routingKey: string, body: string, reason: string }> = [
    { routingKey: 'training.started', body: '{not json', reason: 'invalid_json' },
    { routingKey: 'training.started', body: JSON.stringify({ ...base(), type: 'training.started', data: {} }), reason: 'schema' },
    {
      routingKey: 'training.product.completed',
      body: JSON.stringify({ ...base(), type: 'training.product.completed', data: { total_products: 5, products_completed: 1 } }),
      reason: 'schema'
    },
    { routingKey: 'training.unknown', body: JSON.stringify({ ...base(), type: 'training.unknown', data: {} }), reason: 'unknown_type' },
    {
      routingKey: 'training.started',
      body: JSON.stringify({ ...base(), type: 'training.progress', data: { step: 'Data Analysis' } }),
      reason: 'routing_key_mismatch'
    },
    { routingKey: 'training.progress', body: '[1,2]', reason: 'schema' }
  ]

  const expectedTypes = ['started', 'progress', 'product_completed', 'product_completed', 'product_completed', 'product_completed', 'product_completed', 'completed']
  for (const [i, bad] of invalid.entries()) {
    const good = valid[i] as TrainingEvent
    await publisher.publishRaw(bad.routingKey, bad.body)
    await publisher.publishRaw(good.type, JSON.stringify(good), { messageId: good.event_id })
    await client.waitFor(m => m.filter(x => typeof x.id === 'string').length >= i + 1, 10_000, `valid event ${i + 1} after ${bad.reason}`)
    t.same(client.events.map(m => m.type), expectedTypes.slice(0, i + 1), `valid event ${i + 1} delivered after an invalid one (${bad.reason})`)
  }

  for (const good of valid.slice(invalid.length)) await publisher.publishRaw(good.type, JSON.stringify(good), { messageId: good.event_id })
  t.equal((await client.closedPromise).code, 1000, 'the job completes')
  t.same(client.events.map(m => m.type), expectedTypes, 'every valid event, in order, once')
  t.same(client.events.map(m => m.progress), [0, 20, 32, 44, 56, 68, 80, 100])

  // The dead-letter queue holds exactly the invalid bodies, in order.
  const connection = await amqplib.connect(AMQP_URL)
  t.teardown(() => connection.close().catch(() => {}))
  const channel = await connection.createChannel()
  await eventually('six dead-lettered messages', async () => (await channel.checkQueue(topology.deadLetterQueue)).messageCount >= invalid.length)
  await channel.close()
  const dead = await drainQueue(topology.deadLetterQueue)
  t.same(dead.map(m => m.content.toString()), invalid.map(b => b.body), 'exactly the invalid bodies')
  t.same(dead.map(m => m.fields.routingKey), invalid.map(b => b.routingKey), 'original routing keys kept')
  for (const m of dead) {
    const death = (m.properties.headers?.['x-death'] as Array<Record<string, unknown>> | undefined)?.[0]
    t.match(death, { reason: 'rejected', queue: topology.queue, exchange: topology.exchange }, 'rejected from the training queue')
  }

  // Counted by reason.
  await eventually('dead-letter metrics', async () => await metricValue(training, 'training_events_dead_lettered_total', 'reason="schema"') === 3)
  t.equal(await metricValue(training, 'training_events_dead_lettered_total', 'reason="invalid_json"'), 1)
  t.equal(await metricValue(training, 'training_events_dead_lettered_total', 'reason="schema"'), 3)
  t.equal(await metricValue(training, 'training_events_dead_lettered_total', 'reason="unknown_type"'), 1)
  t.equal(await metricValue(training, 'training_events_dead_lettered_total', 'reason="routing_key_mismatch"'), 1)
  t.equal(await metricValue(training, 'training_events_total', 'type="invalid",outcome="dead_lettered"'), 6)
  t.equal(await metricValue(training, 'training_events_total', 'type="training.product.completed",outcome="applied"'), 5)

  // Still running and ready.
  t.equal(training.child.exitCode, null, 'the process is alive')
  const ready = await fetch(`${training.url}/ready`)
  t.equal(ready.status, 200)

  // Logged with the reason (and the job, when the body names it).
  await eventually('six log lines', () => logLines('invalid event dead-lettered').length >= invalid.length)
  const logged = logLines('invalid event dead-lettered')
  t.same(logged.map(l => l.reason), invalid.map(b => b.reason), 'one warning per invalid event, with its reason')
  for (const l of logged) t.equal(l.level, 40, 'logged as a warning')
  t.same(logged.map(l => l.job_id), [undefined, jobId, jobId, jobId, jobId, undefined], 'the job named when the body has it')
  t.same(logged.map(l => l.routing_key), invalid.map(b => b.routingKey))
})

t.test('the queues and exchanges are declared as the contract says', async t => {
  const connection = await amqplib.connect(AMQP_URL)
  t.teardown(() => connection.close().catch(() => {}))
  const channel = await connection.createChannel()

  const queue = await channel.checkQueue(topology.queue)
  t.equal(queue.queue, topology.queue)
  t.equal(queue.consumerCount, 1, 'the training process consumes the queue')
  const dlq = await channel.checkQueue(topology.deadLetterQueue)
  t.equal(dlq.queue, topology.deadLetterQueue)
  t.equal(dlq.consumerCount, 0, 'nobody consumes the dead-letter queue')
  await channel.checkExchange(topology.exchange)
  await channel.checkExchange(topology.deadLetterExchange)
  t.pass('both exchanges exist')

  // Re-declaring with the documented properties succeeds only if they are equivalent.
  await channel.assertExchange(topology.exchange, 'topic', { durable: true })
  await channel.assertExchange(topology.deadLetterExchange, 'fanout', { durable: true })
  await channel.assertQueue(topology.deadLetterQueue, { durable: true })
  await channel.assertQueue(topology.queue, {
    durable: true,
    arguments: { 'x-single-active-consumer': true, 'x-dead-letter-exchange': topology.deadLetterExchange }
  })
  t.pass('exchange topic+durable, dead-letter exchange durable, queues durable with the dead-letter exchange')
  await channel.close()

  // The check above is meaningful: a different declaration is refused by the broker.
  const conflicting: Array<(c: amqplib.Channel) => Promise<unknown>> = [
    c => c.assertQueue(topology.queue, { durable: false }),
    c => c.assertExchange(topology.exchange, 'direct', { durable: true })
  ]
  for (const attempt of conflicting) {
    const other = await connection.createChannel()
    other.on('error', () => {})
    await t.rejects(attempt(other), /PRECONDITION_FAILED/)
  }

  // (The binding training.# is shown by the first test: training.product.completed events reach the queue.)
})
