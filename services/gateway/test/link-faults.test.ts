/**
 * The link under faults, through real processes: a replica killed with 500
 * sessions on its links (every client resumes, every event once, in
 * order), and a client that stops reading on a busy link while 50 others
 * on the same link keep getting every event (their latency reported).
 */
import t from 'tap'
import type { Socket } from 'node:net'
import { createPublisher } from '@training-live/events/publisher'
import {
  LiveClient, ResumingClient, deleteKeys, deleteTopology, eventually, liveUrl, metricValue, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import { rendezvousOrder } from '../src/link-pool.ts'
import { assertExactlyOnce, fullHistory, jobOf, publishPaced } from './helpers/faults.ts'

t.test('kill -9 of a replica with 500 sessions on its links: every client resumes, every event once, in order', async t => {
  const topology = testTopology('link_kill')
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
  const replicas = await Promise.all([0, 1].map(() => startService('training', { env: topology.env })))
  started.push(...replicas)
  const env = { TRAINING_URLS: replicas.map(r => r.url).join(','), MAX_CONNECTIONS_PER_TENANT: '1000' }
  const gateways = await Promise.all([0, 1].map(() => startService('gateway', { env })))
  started.push(...gateways)
  const victim = replicas[0] as ServiceProcess
  const tenantId = uniqueId('tenant')
  // Five jobs the gateways route to the victim, 100 clients each, spread over both gateways.
  const jobIds: string[] = []
  while (jobIds.length < 5) {
    const jobId = uniqueId('job')
    if (rendezvousOrder(`${tenantId}/${jobId}`, replicas.map(r => ({ r, base: new URL(r.url) })))[0]?.r === victim) jobIds.push(jobId)
  }
  const urls = gateways.map(g => g.wsUrl)
  for (const [j, jobId] of jobIds.entries()) {
    for (let i = 0; i < 100; i++) clients.push(new ResumingClient({ urls, tenantId, jobId, start: i, deadlineMs: 120_000 }))
    await eventually(`the clients of job ${j} have their snapshots`, () => clients.every(c => c.snapshots.length > 0), 60_000)
  }
  t.equal(await metricValue(victim, 'training_link_sessions'), 500, 'the victim holds the 500 sessions, over two links')
  t.equal(await metricValue(victim, 'training_links'), 2)

  const events = jobIds.map(jobId => jobOf(tenantId, jobId, 60))
  const publishing = events.map(job => publishPaced(publisher, job, 20))
  await eventually('the clients are under way', () => clients.every(c => c.ids.length >= 10), 60_000)
  await victim.stop('SIGKILL')
  await Promise.all(publishing.map(p => p.done))
  await Promise.all(clients.map(c => c.done))

  const histories = new Map<string, string[]>()
  for (const jobId of jobIds) histories.set(jobId, await fullHistory((gateways[0] as ServiceProcess).wsUrl, tenantId, jobId))
  for (const [j, jobId] of jobIds.entries()) t.equal(histories.get(jobId)?.length, events[j]?.length, `job ${j}: each event once in the history`)
  const lost = clients.filter(c => c.closeCodes.includes(1011)).length
  t.equal(lost, 500, 'every session of the killed replica was closed with 1011')
  let exact = 0
  for (const [i, c] of clients.entries()) {
    const history = histories.get(jobIds[Math.floor(i / 100)] as string) as string[]
    if (c.ids.length === history.length && c.ids.every((id, k) => id === history[k])) exact++
    else assertExactlyOnce(t, c, history, `client ${i}`)
  }
  t.equal(exact, 500, 'all 500 clients resumed and got every event of their job once, in order')
})

t.test('a client that stops reading on a busy link: it is cut, the 50 others on the link get everything', async t => {
  const topology = testTopology('link_slow')
  const started: ServiceProcess[] = []
  const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  const sockets: LiveClient[] = []
  t.teardown(async () => {
    for (const s of sockets) s.socket.terminate()
    await publisher.close()
    await Promise.all(started.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const training = await startService('training', { env: topology.env })
  started.push(training)
  const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url, SLOW_CLIENT_TIMEOUT_MS: '1000' } })
  started.push(gateway)
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const token = await mintToken({ tenantId })
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const readers = Array.from({ length: 50 }, () => {
    const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))
    client.socket.on('message', (data: Buffer) => {
      const name = /"product_name":"([^"]+)"/.exec(data.toString())?.[1]
      const sent = name === undefined ? undefined : sentAt.get(name)
      if (sent !== undefined) latencies.push(performance.now() - sent)
    })
    return client
  })
  const slow = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))
  sockets.push(...readers, slow)
  await eventually('every client has its snapshot', () => [...readers, slow].every(c => c.messages.length > 0))
  ;(slow.socket as unknown as { _socket: Socket })._socket.pause()

  // 1,000 events of 16 KiB each, 500 a second: more than the kernel's socket buffers hold, so the stalled
  // client's backlog reaches the gateway and passes its bounds within seconds.
  const padding = 'x'.repeat(16 * 1024)
  const events = jobOf(tenantId, jobId, 997).map(e => ({ ...e, data: { ...e.data, padding } }))
  const publishing = (async () => {
    for (const [i, e] of events.entries()) {
      const name = (e.data as { product_name?: string }).product_name
      if (name !== undefined) sentAt.set(name, performance.now())
      await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
      if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 100))
    }
  })()
  await publishing
  const codes = await Promise.all(readers.map(r => r.closedPromise.then(c => c.code)))
  t.ok(codes.every(code => code === 1000), 'every reading client got the job to its end')
  t.ok(readers.every(r => r.events.length === events.length), `every reading client got all ${events.length} events`)
  await eventually('the stalled client cut', async () => await metricValue(gateway, 'gateway_live_disconnects_total', 'reason="slow_client"') === 1, 30_000)
  t.pass('the client that stopped reading was cut and counted')
  ;(slow.socket as unknown as { _socket: Socket })._socket.resume()
  const slowClose = await slow.closedPromise
  t.ok(slowClose.code === 1013 || slowClose.code === 1006, `it was closed (${slowClose.code}) after part of the job (${slow.events.length} events)`)
  t.ok(slow.events.length < events.length, 'it got only part of the job before the cut')
  latencies.sort((a, b) => a - b)
  const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1)
  t.comment(`the 50 reading clients, publish to receive over ${latencies.length} deliveries: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`)
})
