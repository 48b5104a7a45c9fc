/**
 * Fault injection: the training service loses its broker connection in the
 * middle of a job. It reports not ready, reconnects with back-off, gets its
 * unacked events again and applies each once; live sockets stay open. And
 * a worker's publisher that loses the broker reconnects on its own.
 */
import t, { type Test } from 'tap'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  AMQP_URL, ResumingClient, deleteKeys, deleteTopology, eventually, metricValue, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import {
  TcpProxy, allReached, assertExactlyOnce, closeAmqpConnectionsOf, fullHistory, jobOf, pollReady, publishPaced, readyBecomes
} from './helpers/faults.ts'

const PRODUCTS = 200
const PACE_MS = 10
const CLIENTS = 4

interface Stack {
  exchange: string
  training: ServiceProcess
  gateway: ServiceProcess
  publisher: Publisher
  clients: ResumingClient[]
}

/** One training replica (optionally reaching the broker through `amqpUrl`) and one gateway. */
async function stack (t: Test, amqpUrl = AMQP_URL): Promise<Stack> {
  const topology = testTopology('faults-broker')
  const s: Partial<Stack> & { clients: ResumingClient[], started: ServiceProcess[] } = { clients: [], started: [] }
  t.teardown(async () => {
    for (const c of s.clients) c.stop()
    await s.publisher?.close()
    await Promise.all(s.started.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const training = await startService('training', { env: { ...topology.env, AMQP_URL: amqpUrl } })
  s.started.push(training)
  const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url } })
  s.started.push(gateway)
  const publisher = await createPublisher({ url: AMQP_URL, exchange: topology.exchange })
  Object.assign(s, { exchange: topology.exchange, training, gateway, publisher })
  return s as Stack
}

async function watchers (s: Stack, tenantId: string, jobId: string): Promise<ResumingClient[]> {
  for (let i = 0; i < CLIENTS; i++) s.clients.push(new ResumingClient({ urls: [s.gateway.wsUrl], tenantId, jobId }))
  await eventually('every client has its snapshot', () => s.clients.every(c => c.snapshots.length > 0), 10_000)
  return s.clients
}

function applied (service: { url: string }): Promise<number> {
  return metricValue(service, 'training_events_total', 'outcome="applied"')
}

function countLines (output: string, text: string): number {
  return output.split('\n').filter(line => line.includes(text)).length
}

t.test('the broker closes the consumer\'s connection mid-job: not ready, reconnects, every event applied and delivered once', async t => {
  const s = await stack(t)
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const clients = await watchers(s, tenantId, jobId)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const publishing = publishPaced(s.publisher, events, PACE_MS)

  await allReached(clients, 60)
  const readiness = pollReady(s.training.url)
  const closed = await closeAmqpConnectionsOf(s.training.child.pid as number, 'fault injection: broker drops the consumer')
  t.ok(closed >= 1, `closed the training service's ${closed} AMQP connection(s) from the broker`)
  await eventually('the service notices', () => s.training.output().includes('amqp disconnected'), 10_000)
  await readyBecomes(s.training.url, 200)
  const statuses = await readiness.stop()
  t.pass('/ready answers 200 again after the reconnect')
  t.comment(`/ready while polling: ${statuses.filter(x => x === 503).length} x 503, ${statuses.filter(x => x === 200).length} x 200`)
  // The first reconnect waits at least 140 ms (200 ms, 30 % jitter): many polls fall inside the outage.
  t.ok(statuses.includes(503), '/ready answered 503 while the consumer was disconnected')
  t.equal(await metricValue(s.training, 'training_amqp_connected'), 1, 'training_amqp_connected is back to 1')

  await publishing.done
  await Promise.all(clients.map(c => c.done))
  const history = await fullHistory(s.gateway.wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each published event once')
  t.equal(await applied(s.training), events.length, 'each event applied exactly once')
  t.comment(`${await metricValue(s.training, 'training_events_redelivered_total')} redelivered, ` +
    `${await metricValue(s.training, 'training_events_total', 'outcome="duplicate"')} duplicates`)
  for (const [i, c] of clients.entries()) {
    t.same(c.closeCodes, [1000], `client ${i}: its socket stayed open through the broker outage`)
    assertExactlyOnce(t, c, history, `client ${i}`)
  }
})

t.test('events published while the consumer is cut off from the broker are applied once it is back', async t => {
  const proxy = await new TcpProxy(5672).listen()
  t.teardown(() => proxy.close())
  const s = await stack(t, `amqp://guest:guest@127.0.0.1:${proxy.port}`)
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const clients = await watchers(s, tenantId, jobId)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const before = events.slice(0, 100)
  const during = events.slice(100)
  const publishing = publishPaced(s.publisher, before, 2)

  // Cut mid-stream, while deliveries and acks are on the wire.
  await allReached(clients, 50)
  proxy.cut()
  await eventually('the service notices', () => s.training.output().includes('amqp disconnected'), 10_000)
  await publishing.done
  t.equal((await fetch(`${s.training.url}/ready`)).status, 503, '/ready answers 503 while the broker is unreachable')
  t.equal(await metricValue(s.training, 'training_amqp_connected'), 0, 'training_amqp_connected is 0')

  await publishPaced(s.publisher, during, 0).done
  // Let the consumer try (and fail) to reconnect a few times.
  await eventually('reconnect attempts', () => countLines(s.training.output(), 'amqp connect failed') >= 2, 10_000)
  t.ok(await applied(s.training) <= before.length, 'nothing published during the outage was applied')
  t.equal((await fetch(`${s.training.url}/ready`)).status, 503, 'still not ready')
  t.ok(clients.every(c => c.current?.close === null), 'live sockets stay open while the broker is away')

  proxy.restore()
  await readyBecomes(s.training.url, 200)
  t.pass('/ready answers 200 once the broker is reachable again')
  await Promise.all(clients.map(c => c.done))
  const history = await fullHistory(s.gateway.wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each published event once')
  t.equal(await applied(s.training), events.length, 'each event applied exactly once')
  t.comment(`${await metricValue(s.training, 'training_events_redelivered_total')} redelivered, ` +
    `${await metricValue(s.training, 'training_events_total', 'outcome="duplicate"')} duplicates`)
  for (const [i, c] of clients.entries()) {
    t.same(c.closeCodes, [1000], `client ${i}: its socket stayed open through the outage`)
    assertExactlyOnce(t, c, history, `client ${i}`)
  }
})

t.test('the worker\'s publisher loses the broker mid-job: it reconnects on its own and every event arrives once', async t => {
  const proxy = await new TcpProxy(5672).listen()
  t.teardown(() => proxy.close())
  const s = await stack(t)
  const worker = await createPublisher({ url: `amqp://guest:guest@127.0.0.1:${proxy.port}`, exchange: s.exchange })
  t.teardown(() => worker.close())
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const clients = await watchers(s, tenantId, jobId)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const publishing = publishPaced(worker, events, 2)

  await allReached(clients, 50)
  proxy.cut()
  const cutAt = publishing.published
  // Publishes made while the broker is unreachable wait in the publisher; none is lost.
  await new Promise(resolve => setTimeout(resolve, 1000))
  t.ok(publishing.published - cutAt <= 1, `publishing waits while the broker is unreachable (${publishing.published - cutAt} confirmed after the cut)`)
  proxy.restore()
  await publishing.done
  t.equal(publishing.published, events.length, 'every publish resolved once the broker was reachable again')
  await Promise.all(clients.map(c => c.done))
  const history = await fullHistory(s.gateway.wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each published event once')
  for (const [i, c] of clients.entries()) {
    t.same(c.closeCodes, [1000], `client ${i}: its socket stayed open`)
    assertExactlyOnce(t, c, history, `client ${i}`)
  }
})
