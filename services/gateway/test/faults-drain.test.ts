/**
 * Fault injection: graceful drain. The active consumer replica gets SIGTERM
 * during a burst: /ready fails first, its clients are closed with 1012, it
 * exits 0 within SHUTDOWN_GRACE_MS, and the other replica carries on.
 */
import t from 'tap'
import { once } from 'node:events'
import { createPublisher } from '@training-live/events/publisher'
import {
  ResumingClient, deleteKeys, deleteTopology, eventually, metricValue, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import { rendezvousOrder } from '../src/link-pool.ts'
import { allReached, assertExactlyOnce, fullHistoryMessages, jobOf, publishPaced } from './helpers/faults.ts'

const PRODUCTS = 500
const CLIENTS = 4
const GRACE_MS = 5000

function applied (service: { url: string }): Promise<number> {
  return metricValue(service, 'training_events_total', 'outcome="applied"')
}

t.test('SIGTERM the active consumer during a burst: not ready first, 1012, exit 0 in time, nothing lost or doubled', async t => {
  const topology = testTopology('faults-drain')
  const started: ServiceProcess[] = []
  const clients: ResumingClient[] = []
  const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  t.teardown(async () => {
    for (const c of clients) c.stop()
    await publisher.close()
    await Promise.all(started.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const env = { ...topology.env, SHUTDOWN_GRACE_MS: String(GRACE_MS) }
  const replicas = await Promise.all([0, 1].map(async () => {
    const replica = await startService('training', { env })
    started.push(replica)
    return replica
  }))
  const gateway = await startService('gateway', { env: { TRAINING_URLS: replicas.map(r => r.url).join(',') } })
  started.push(gateway)

  const tenantId = uniqueId('tenant')
  // The active consumer, found by a first job's events; the watched job is one the gateway routes to
  // it (each job's sessions go to one replica), so the victim both consumes and serves the clients.
  await publishPaced(publisher, jobOf(tenantId, uniqueId('job'), 0), 0).done
  await eventually('the first job applied', async () => (await Promise.all(replicas.map(applied))).some(n => n > 0))
  const victimIndex = await applied(replicas[0] as ServiceProcess) > 0 ? 0 : 1
  const victim = replicas[victimIndex] as ServiceProcess
  const survivor = replicas[1 - victimIndex] as ServiceProcess
  let jobId = uniqueId('job')
  while (rendezvousOrder(`${tenantId}/${jobId}`, replicas.map(r => ({ r, base: new URL(r.url) })))[0]?.r !== victim) jobId = uniqueId('job')
  for (let i = 0; i < CLIENTS; i++) clients.push(new ResumingClient({ urls: [gateway.wsUrl], tenantId, jobId }))
  await eventually('every client has its snapshot', () => clients.every(c => c.snapshots.length > 0), 10_000)
  const events = jobOf(tenantId, jobId, PRODUCTS)
  const publishing = publishPaced(publisher, events, 0)

  await allReached(clients, 100)
  const counts = await Promise.all(replicas.map(applied))
  t.equal(counts.filter(n => n > 0).length, 1, `one replica consumes: ${counts.join(', ')}`)
  const socketsOnVictim = await metricValue(victim, 'training_live_connections')
  const survivorBefore = await applied(survivor)
  t.ok(socketsOnVictim > 0, `the victim serves ${socketsOnVictim} of the clients`)

  const exited = once(victim.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const signalled = Date.now()
  victim.child.kill('SIGTERM')
  // Poll /ready until the process is gone (at least once): 0 stands for no answer (the listener is closed).
  // What the code guarantees (service-kit server.ts): on the signal, readiness.draining is set before
  // app.close() starts, so from then on /ready answers 503 until the listener closes; how long that
  // window lasts depends on the drain, so seeing a 503 in it is likely, not certain.
  const statuses: number[] = []
  do {
    try {
      const res = await fetch(`${victim.url}/ready`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      statuses.push(res.status)
    } catch {
      statuses.push(0)
    }
  } while (victim.child.exitCode === null && victim.child.signalCode === null)
  const [code, signal] = await exited
  const took = Date.now() - signalled
  t.comment(`/ready after SIGTERM: ${JSON.stringify(statuses.slice(0, 20))}${statuses.length > 20 ? ` … (${statuses.length})` : ''}; exited after ${took} ms`)
  const firstDown = statuses.findIndex(s => s !== 200)
  t.ok(firstDown >= 0, '/ready stopped answering 200 before the process exited')
  t.ok(statuses.slice(firstDown).every(s => s === 503 || s === 0), 'and never answered 200 again: 503 (draining), then no listener')
  t.comment(statuses.includes(503) ? '/ready answered 503 (draining) before the listener closed' : 'the drain was quicker than a poll: no 503 seen')
  t.equal(signal, null, 'the process exited by itself')
  t.equal(code, 0, `it exited with code 0, so within SHUTDOWN_GRACE_MS (${GRACE_MS} ms)`)

  await publishing.done
  await Promise.all(clients.map(c => c.done))
  const messages = await fullHistoryMessages(gateway.wsUrl, tenantId, jobId)
  const history = messages.map(m => m.id as string)
  t.equal(history.length, events.length, 'the history holds each published event once: none lost, none applied twice')
  // The draining replica finishes its in-flight events before the broker hands the queue to the other,
  // so the two never apply this job's events at once: the history keeps the publish order.
  const applyOrder = messages.map(m => m.type === 'product_completed' ? m.data?.product_name : m.type)
  const publishOrder = events.map(e => e.type === 'training.product.completed' ? e.data.product_name : e.type.replace('training.', ''))
  t.same(applyOrder, publishOrder, 'events were applied in publish order across the hand-over')
  t.ok(await applied(survivor) > survivorBefore, 'the other replica took over consuming')
  const closes = clients.flatMap(c => c.closeCodes)
  t.equal(closes.filter(code => code === 1012).length, socketsOnVictim, 'each client of the draining replica was closed with 1012')
  t.same(closes.filter(code => code !== 1012 && code !== 1000), [], 'no other close code')
  for (const [i, c] of clients.entries()) assertExactlyOnce(t, c, history, `client ${i}`)
})
