/**
 * Fault injection: a training replica or a gateway dies (kill -9) in the
 * middle of a job. Clients that resume with last_id end with every event
 * exactly once, in order; the single active consumer fails over.
 */
import t, { type Test } from 'tap'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  eventually, ResumingClient, deleteKeys, deleteTopology, metricValue, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import { rendezvousOrder } from '../src/link-pool.ts'
import { allReached, assertExactlyOnce, fullHistory, jobOf, publishPaced } from './helpers/faults.ts'

const PRODUCTS = 200
const PACE_MS = 10
const CLIENTS = 4

interface Stack {
  replicas: ServiceProcess[]
  gateways: ServiceProcess[]
  publisher: Publisher
  clients: ResumingClient[]
}

/** Two training replicas behind two gateways, all torn down with the test. */
async function stack (t: Test): Promise<Stack> {
  const topology = testTopology('faults-replica')
  const s: Partial<Stack> & { clients: ResumingClient[], started: ServiceProcess[] } = { clients: [], started: [] }
  t.teardown(async () => {
    for (const c of s.clients) c.stop()
    await s.publisher?.close()
    await Promise.all(s.started.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const track = async (p: Promise<ServiceProcess>) => { const service = await p; s.started.push(service); return service }
  const replicas = await Promise.all([0, 1].map(() => track(startService('training', { env: topology.env }))))
  const env = { TRAINING_URLS: replicas.map(r => r.url).join(',') }
  const gateways = await Promise.all([0, 1].map(() => track(startService('gateway', { env }))))
  const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  Object.assign(s, { replicas, gateways, publisher })
  return s as Stack
}

/** `CLIENTS` resuming clients spread over the gateways, each with its first snapshot. */
async function watchers (s: Stack, tenantId: string, jobId: string): Promise<ResumingClient[]> {
  const urls = s.gateways.map(g => g.wsUrl)
  for (let i = 0; i < CLIENTS; i++) s.clients.push(new ResumingClient({ urls, tenantId, jobId, start: i }))
  for (const c of s.clients) {
    while (c.snapshots.length === 0) {
      if (c.failures.length > 20) throw new Error(`client cannot connect: ${JSON.stringify(c.failures.at(-1))}`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
  return s.clients
}

function applied (service: { url: string }): Promise<number> {
  return metricValue(service, 'training_events_total', 'outcome="applied"')
}

t.test('kill -9 the active consumer replica mid-job: clients resume, the consumer fails over, nothing lost or doubled', async t => {
  const s = await stack(t)
  const tenantId = uniqueId('tenant')
  // The active consumer, found by a first job's events; the watched job is one the gateways route to
  // it (each job's sessions go to one replica), so the victim both consumes and serves the clients.
  const first = uniqueId('job')
  await publishPaced(s.publisher, jobOf(tenantId, first, 0), 0).done
  await eventually('the first job applied', async () => (await Promise.all(s.replicas.map(applied))).some(n => n > 0))
  const victimIndex = await applied(s.replicas[0] as ServiceProcess) > 0 ? 0 : 1
  const victim = s.replicas[victimIndex] as ServiceProcess
  const survivor = s.replicas[1 - victimIndex] as ServiceProcess
  let jobId = uniqueId('job')
  while (rendezvousOrder(`${tenantId}/${jobId}`, s.replicas.map(r => ({ r, base: new URL(r.url) })))[0]?.r !== victim) jobId = uniqueId('job')
  const clients = await watchers(s, tenantId, jobId)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const publishing = publishPaced(s.publisher, events, PACE_MS)

  await allReached(clients, 60)
  const counts = await Promise.all(s.replicas.map(applied))
  t.equal(counts.filter(n => n > 0).length, 1, `exactly one replica consumes (single active consumer): ${counts.join(', ')}`)
  const socketsOnVictim = await metricValue(victim, 'training_live_connections')
  const survivorBefore = await applied(survivor)
  t.ok(socketsOnVictim > 0, `the victim serves ${socketsOnVictim} of the clients`)

  await victim.stop('SIGKILL')
  await publishing.done
  await Promise.all(clients.map(c => c.done))

  const history = await fullHistory((s.gateways[0] as ServiceProcess).wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each published event once: none lost, none applied twice')
  t.ok(await applied(survivor) > survivorBefore, 'the other replica took over consuming')
  t.comment(`survivor: ${await metricValue(survivor, 'training_events_redelivered_total')} redelivered, ` +
    `${await metricValue(survivor, 'training_events_total', 'outcome="duplicate"')} duplicates`)

  const closes = clients.flatMap(c => c.closeCodes)
  t.equal(closes.filter(code => code === 1011).length, socketsOnVictim, 'each client of the killed replica was closed with 1011 by its gateway')
  t.same(closes.filter(code => code !== 1011 && code !== 1000), [], 'no other close code')
  for (const [i, c] of clients.entries()) assertExactlyOnce(t, c, history, `client ${i}`)
})

t.test('kill -9 a gateway mid-job: its clients resume through the other gateway', async t => {
  const s = await stack(t)
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const clients = await watchers(s, tenantId, jobId)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const publishing = publishPaced(s.publisher, events, PACE_MS)

  await allReached(clients, 60)
  const [victim, survivor] = s.gateways as [ServiceProcess, ServiceProcess]
  const onVictim = clients.filter(c => c.current?.url === victim.wsUrl && c.current.close === null)
  t.ok(onVictim.length > 0, `${onVictim.length} clients are on the gateway to kill`)
  await victim.stop('SIGKILL')
  await publishing.done
  await Promise.all(clients.map(c => c.done))

  const history = await fullHistory(survivor.wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each published event once')
  for (const c of onVictim) {
    const lost = c.connections.find(x => x.url === victim.wsUrl && x.close?.code === 1006)
    t.ok(lost !== undefined, 'a client of the killed gateway saw its socket drop (1006)')
    t.equal(c.current?.url, survivor.wsUrl, 'and finished through the other gateway')
  }
  const closes = clients.flatMap(c => c.closeCodes)
  t.equal(closes.filter(code => code === 1006).length, onVictim.length, 'only the killed gateway\'s clients lost their socket')
  for (const [i, c] of clients.entries()) assertExactlyOnce(t, c, history, `client ${i}`)
})
