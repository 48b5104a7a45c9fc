/**
 * The production shapes of the dependencies, run for real on loopback:
 * Redis behind Sentinel (with a failover mid-job), Redis Cluster (jobs on
 * several nodes), and the queue as a quorum queue with a standby replica.
 * Each job must reach its end on a live socket with every event once.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { TrainingEvent } from '@training-live/events'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  LiveClient, OwnedRedis, deleteKeys, deleteTopology, eventually, jobEvents, liveUrl, metricValue, mintToken, startService,
  testTopology, uniqueId, type ServiceProcess, type Topology
} from '@training-live/test-kit'

const run = promisify(execFile)

interface Stack {
  topology: Topology
  publisher: Publisher
  start: (env: Record<string, string>) => Promise<ServiceProcess>
}

/** A topology, a publisher and service processes, all removed when `t` ends. */
async function stack (t: Test, name: string): Promise<Stack> {
  const topology = testTopology(name)
  const processes: ServiceProcess[] = []
  const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  t.teardown(async () => {
    await publisher.close()
    await Promise.all(processes.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  return {
    topology,
    publisher,
    async start (env) {
      const p = await startService('training', { env: { ...topology.env, ...env } })
      processes.push(p)
      return p
    }
  }
}

function products (n: number): string[] {
  return Array.from({ length: n }, (_, i) => `product-${i}`)
}

async function publishAll (publisher: Publisher, events: TrainingEvent[]): Promise<void> {
  for (const e of events) await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
}

/** Every live event once, in order, ending completed at 100 %. */
function assertComplete (t: Test, client: LiveClient, events: number, label: string): void {
  const ids = client.events.map(m => m.id as string)
  t.equal(ids.length, events, `${label}: every event once`)
  t.equal(new Set(ids).size, ids.length, `${label}: no duplicates`)
  t.same(client.events.map(m => m.type).at(-1), 'completed', `${label}: ends completed`)
  t.equal(client.events.at(-1)?.progress, 100, `${label}: at 100 %`)
}

async function watch (t: Test, p: ServiceProcess, tenantId: string, jobId: string): Promise<LiveClient> {
  const client = new LiveClient(liveUrl(p.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
  t.teardown(() => client.close())
  await client.waitFor(m => m.length >= 1, 10_000, 'the snapshot')
  return client
}

t.test('Redis through Sentinel: a job runs on, and finishes, across a failover', async t => {
  const primary = await OwnedRedis.start()
  const replica = await OwnedRedis.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const sentinel = await OwnedRedis.start({
    sentinelConfig: [
      `sentinel monitor jobs 127.0.0.1 ${primary.port} 1`,
      'sentinel down-after-milliseconds jobs 1000',
      'sentinel failover-timeout jobs 5000'
    ]
  })
  t.teardown(async () => { await Promise.all([sentinel.destroy(), replica.destroy(), primary.destroy()]) })
  await eventually('the sentinel to see the replica', async () => /num-slaves\s+1/.test(await sentinel.cli('SENTINEL', 'master', 'jobs')))

  const s = await stack(t, 'sentinel')
  const p = await s.start({ REDIS_SENTINELS: sentinel.address, REDIS_SENTINEL_MASTER: 'jobs' })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(t, p, tenantId, jobId)
  const events = jobEvents(tenantId, jobId, products(20))

  await publishAll(s.publisher, events.slice(0, 10))
  await client.waitFor(() => client.events.length === 10, 20_000, 'the first half')
  t.match(await primary.cli('HGET', `${s.topology.env.REDIS_KEY_PREFIX}{${tenantId}/${jobId}}:state`, 'last'), /^\d+-\d+$/, 'written to the primary')
  // Replicated before the switch, so the failover itself loses nothing (Redis replication is asynchronous).
  await eventually('the replica to catch up', async () => {
    const offsets = await Promise.all([primary, replica].map(async r => /master_repl_offset:(\d+)/.exec(await r.cli('INFO', 'replication'))?.[1]))
    return offsets[0] === offsets[1]
  })

  await sentinel.cli('SENTINEL', 'failover', 'jobs')
  await eventually('the replica to be the primary', async () => (await sentinel.cli('SENTINEL', 'get-master-addr-by-name', 'jobs')).endsWith(String(replica.port)), 30_000)
  await eventually('the old primary to be a replica', async () => /role:slave/.test(await primary.cli('INFO', 'replication')), 30_000)

  await publishAll(s.publisher, events.slice(10))
  await client.waitFor(() => client.events.length === events.length, 30_000, 'the rest, after the failover')
  assertComplete(t, client, events.length, 'sentinel')
  t.match(await replica.cli('HGET', `${s.topology.env.REDIS_KEY_PREFIX}{${tenantId}/${jobId}}:state`, 'j'), /"status":"completed"/, 'the new primary holds the final state')
  t.equal(await metricValue(p, 'training_redis_connected'), 1)
})

t.test('Redis Cluster: jobs on several nodes, each through to the end', async t => {
  const nodes = await Promise.all([0, 1, 2].map(() => OwnedRedis.start({ args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] })))
  t.teardown(async () => { await Promise.all(nodes.map(n => n.destroy())) })
  await run('redis-cli', ['--cluster', 'create', ...nodes.map(n => n.address), '--cluster-replicas', '0', '--cluster-yes'])
  for (const node of nodes) await eventually('the cluster to be ok', async () => /cluster_state:ok/.test(await node.cli('CLUSTER', 'INFO')))

  const s = await stack(t, 'cluster')
  const p = await s.start({ REDIS_CLUSTER_NODES: nodes[0]?.address as string })
  const tenantId = uniqueId('tenant')
  const jobIds = Array.from({ length: 8 }, () => uniqueId('job'))
  const clients = await Promise.all(jobIds.map(jobId => watch(t, p, tenantId, jobId)))
  const jobs = jobIds.map(jobId => jobEvents(tenantId, jobId, products(5)))
  await Promise.all(jobs.map(events => publishAll(s.publisher, events)))
  for (const [i, client] of clients.entries()) {
    await client.waitFor(() => client.events.length === jobs[i]?.length, 30_000, `job ${i} to finish`)
    assertComplete(t, client, jobs[i]?.length as number, `job ${i}`)
  }
  // Where the jobs' keys live: on more than one node, so commits and reads went through the cluster's routing.
  const holders = new Set<number>()
  for (const jobId of jobIds) {
    const key = `${s.topology.env.REDIS_KEY_PREFIX}{${tenantId}/${jobId}}:state`
    for (const [i, node] of nodes.entries()) if (await node.cli('EXISTS', key).catch(() => '0') === '1') holders.add(i)
  }
  t.ok(holders.size >= 2, `jobs held on ${holders.size} of 3 nodes`)
})

t.test('quorum queue: declared as such, a standby replica, a job through to the end', async t => {
  const s = await stack(t, 'quorum')
  const env = { AMQP_QUEUE_TYPE: 'quorum', QUEUE_STATS_INTERVAL_MS: '100' }
  const active = await s.start(env)
  const standby = await s.start(env)
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', 'name', 'type', '--no-table-headers'])
  t.match(stdout, new RegExp(`^${s.topology.queue.replaceAll('.', '\\.')}\\s+quorum$`, 'm'), 'the queue is a quorum queue')
  // Both consume, but a quorum queue with a single active consumer reports only the active one.
  await eventually('the active consumer', async () => await metricValue(standby, 'training_queue_consumers') === 1)

  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(t, standby, tenantId, jobId)
  const events = jobEvents(tenantId, jobId, products(10))
  await publishAll(s.publisher, events)
  await client.waitFor(() => client.events.length === events.length, 20_000, 'the job to finish')
  assertComplete(t, client, events.length, 'quorum')
  const applied = await metricValue([active, standby], 'training_events_total', 'outcome="applied"')
  t.equal(applied, events.length, 'each event applied once, by one of the two')
})
