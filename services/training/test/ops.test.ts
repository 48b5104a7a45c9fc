/**
 * Operations of a real training process: health, readiness with each
 * dependency up or down, metrics, configuration errors and defaults.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import amqplib from 'amqplib'
import { Registry } from 'prom-client'
import { createPublisher } from '@training-live/events/publisher'
import {
  AMQP_URL, LiveClient, OwnedRedis, REDIS_URL, TEST_SECRET, deleteKeys, deleteTopology, freePort, jobEvents, liveUrl, metricValue, mintToken,
  startService, testTopology, uniqueId, type ServiceProcess, type Topology
} from '@training-live/test-kit'
import { loadTrainingConfig, parseHostPorts } from '../src/config.ts'
import { createTrainingMetrics } from '../src/metrics.ts'
import { QueueStats } from '../src/queue-stats.ts'

const topology = testTopology('ops')
const processes: ServiceProcess[] = []

t.teardown(async () => {
  await Promise.all(processes.map(p => p.stop('SIGKILL')))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

async function start (env: Record<string, string>, waitFor: 'ready' | 'health' | 'exit' = 'ready'): Promise<ServiceProcess> {
  const p = await startService('training', { env, waitFor })
  processes.push(p)
  return p
}

async function getJson (url: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** Polls until `check` holds; for state reached asynchronously (never a timed assertion). */
async function eventually<T> (what: string, probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await sleep(100)
  }
}

t.test('health, readiness and metrics of a connected process', async t => {
  const p = await start(topology.env)
  const health = await getJson(`${p.url}/health`)
  t.equal(health.status, 200)
  t.same(health.body, { status: 'ok' })

  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 200)
  t.same(ready.body, { status: 'ready', checks: { redis: true, amqp: true } })

  const metrics = await eventually('training_amqp_connected 1', async () => {
    const res = await fetch(`${p.url}/metrics`)
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
  }, m => /^training_amqp_connected 1$/m.test(m.text))
  t.equal(metrics.status, 200)
  t.match(metrics.type, /^text\/plain/)
  t.match(metrics.text, /^# TYPE training_events_total counter$/m)
  t.match(metrics.text, /^training_live_connections 0$/m)
  t.match(metrics.text, /^training_amqp_connected 1$/m)
  t.match(metrics.text, /^training_redis_connected 1$/m)
  t.match(metrics.text, /^training_ready 1$/m)
  t.match(metrics.text, /^training_process_cpu_user_seconds_total /m, 'default process metrics, prefixed')
})

t.test('AMQP unreachable: starts, /ready 503 with checks.amqp false', async t => {
  const port = await freePort()
  const p = await start({ ...topology.env, AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` }, 'health')
  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 503)
  t.match(ready.body, { status: 'not_ready', checks: { amqp: false } })
  t.equal((await fetch(`${p.url}/health`)).status, 200, 'still alive')
  t.match(await (await fetch(`${p.url}/metrics`)).text(), /^training_amqp_connected 0$/m)
  t.equal(p.child.exitCode, null, 'the process keeps running')
})

t.test('Redis unreachable: starts, /ready 503 with checks.redis false', async t => {
  const port = await freePort()
  const p = await start({ ...topology.env, REDIS_URL: `redis://127.0.0.1:${port}` }, 'health')
  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 503)
  const text = await (await fetch(`${p.url}/metrics`)).text()
  t.match(text, /^training_redis_connected 0$/m)
  t.match(text, /^training_ready 0$/m)
  t.match(ready.body, { status: 'not_ready', checks: { redis: false } })
  t.equal((await fetch(`${p.url}/health`)).status, 200, 'still alive')
  t.equal(p.child.exitCode, null, 'the process keeps running')
})

for (const [name, value] of [['AMQP_PREFETCH', '0'], ['REDIS_URL', 'http://x'], ['HEARTBEAT_INTERVAL_MS', 'soon']] as const) {
  t.test(`${name}=${value} stops the process with a message naming ${name}`, async t => {
    const p = await start({ ...topology.env, [name]: value }, 'exit')
    t.not(p.child.exitCode, null, 'exited')
    t.not(p.child.exitCode, 0, 'exit code is non-zero')
    t.match(p.output(), name)
    t.match(p.output(), /invalid configuration/)
  })
}

/**
 * startService always passes PORT as a number it chose (PORT=abc becomes "NaN"),
 * so this one case spawns the server itself to pass the literal value.
 */
t.test('PORT=abc stops the process with a message naming PORT', async t => {
  const cwd = fileURLToPath(new URL('../', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, ...topology.env, PORT: 'abc' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.not(code, null)
  t.not(code, 0, 'exit code is non-zero')
  t.match(out, 'PORT')
  t.match(out, /invalid configuration/)
})

t.test('NODE_ENV=production without JWT_SECRET refuses to start', async t => {
  const p = await start({ ...topology.env, NODE_ENV: 'production', JWT_SECRET: '' }, 'exit')
  t.not(p.child.exitCode, null, 'exited')
  t.not(p.child.exitCode, 0, 'exit code is non-zero')
  t.match(p.output(), /JWT_SECRET \(or JWT_PUBLIC_KEY\) must be set when NODE_ENV=production/)
  t.notMatch(p.output(), /listening/i, 'never listened')
})

t.test('defaults are the contract\'s', async t => {
  const c = loadTrainingConfig({})
  t.equal(c.AMQP_URL, 'amqp://guest:guest@127.0.0.1:5672')
  t.equal(c.REDIS_URL, 'redis://127.0.0.1:6379')
  t.equal(c.PORT, 8001)
  t.equal(c.AMQP_EXCHANGE, 'training.events')
  t.equal(c.AMQP_QUEUE, 'training.progress')
  t.equal(c.AMQP_DEAD_LETTER_EXCHANGE, 'training.events.dlx')
  t.equal(c.AMQP_DEAD_LETTER_QUEUE, 'training.progress.dead')
  t.equal(c.NODE_ENV, 'development')
  t.equal(c.JWT_SECRET, undefined, 'no secret by default (the development secret is used, with a warning)')
  t.equal(REDIS_URL.startsWith('redis://'), true)
})

t.test('configuration errors from loadTrainingConfig name the variable', async t => {
  t.throws(() => loadTrainingConfig({ AMQP_PREFETCH: '0' }), /AMQP_PREFETCH/)
  t.throws(() => loadTrainingConfig({ PORT: 'abc' }), /PORT/)
  t.throws(() => loadTrainingConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/)
  t.throws(() => loadTrainingConfig({ NODE_ENV: 'production' }), /JWT_SECRET/)
  t.throws(() => loadTrainingConfig({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET }), /LINK_SECRET must be set/)
  t.throws(() => loadTrainingConfig({ HOST: '0.0.0.0', JWT_SECRET: TEST_SECRET }), /development LINK_SECRET/)
  const production = loadTrainingConfig({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, LINK_SECRET: 'link-secret-0123456789' })
  t.equal(production.JWT_SECRET, TEST_SECRET)
  t.equal(production.linkSecret, 'link-secret-0123456789', 'the link secret as set')
  t.equal(loadTrainingConfig({}).linkSecret.length > 16, true, 'on loopback in development: the development link secret')
})

t.test('Redis topology and queue type settings are checked at start', async t => {
  t.equal(loadTrainingConfig({}).AMQP_QUEUE_TYPE, 'classic')
  t.equal(loadTrainingConfig({ AMQP_QUEUE_TYPE: 'quorum' }).AMQP_QUEUE_TYPE, 'quorum')
  t.throws(() => loadTrainingConfig({ AMQP_QUEUE_TYPE: 'stream' }), /AMQP_QUEUE_TYPE/)
  t.throws(() => loadTrainingConfig({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' }), /REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both/)
  t.throws(() => loadTrainingConfig({ REDIS_SENTINELS: 'sentinel-0' }), /REDIS_SENTINELS/, 'a port is required')
  t.throws(() => loadTrainingConfig({ REDIS_CLUSTER_NODES: 'a:1,b:70000' }), /REDIS_CLUSTER_NODES has a port out of range/)
  const c = loadTrainingConfig({ REDIS_SENTINELS: 's-0:26379, s-1:26379' })
  t.equal(c.REDIS_SENTINEL_MASTER, 'mymaster')
  t.same(parseHostPorts(c.REDIS_SENTINELS as string), [{ host: 's-0', port: 26379 }, { host: 's-1', port: 26379 }])
})

/** A topology of the test's own, and processes on it that stop before it is deleted (or they would declare it again). */
function ownTopology (t: Test, name: string): { own: Topology, start: () => Promise<ServiceProcess> } {
  const own = testTopology(name)
  t.teardown(async () => {
    await deleteTopology(own)
    await deleteKeys(own.env.REDIS_KEY_PREFIX as string)
  })
  return {
    own,
    async start () {
      const p = await start({ ...own.env, QUEUE_STATS_INTERVAL_MS: '100' })
      // Teardowns run last-registered first: this one before the topology's.
      t.teardown(() => p.stop('SIGKILL'))
      return p
    }
  }
}

t.test('metrics: accepted connections, live latency from the event timestamp, queue depth and consumers', async t => {
  const { own, start: startOwn } = ownTopology(t, 'ops-metrics')
  const p = await startOwn()
  await eventually('one consumer on the queue', () => metricValue(p, 'training_queue_consumers'), v => v === 1)
  t.equal(await metricValue(p, 'training_queue_messages'), 0, 'nothing waiting')

  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = new LiveClient(liveUrl(p.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
  t.teardown(() => client.close())
  await client.waitFor(m => m.length === 1, 10_000, 'the snapshot')
  t.equal(await metricValue(p, 'training_connections_accepted_total'), 1)

  const publisher = await createPublisher({ url: own.env.AMQP_URL, exchange: own.exchange })
  t.teardown(() => publisher.close())
  // Emitted 2 s ago by the worker's clock: the histogram counts from the event's own timestamp.
  const timestamp = new Date(Date.now() - 2000).toISOString()
  await publisher.publish('training.started', { tenant_id: tenantId, job_id: jobId, timestamp, data: { total_products: 1 } })
  await client.waitFor(m => m.length === 2, 10_000, 'the started event')
  const count = await eventually('one latency sample', () => metricValue(p, 'training_live_latency_seconds_count'), v => v === 1)
  t.equal(count, 1)
  t.ok(await metricValue(p, 'training_live_latency_seconds_sum') >= 2, 'the sample is at least the 2 s since the timestamp')
  t.equal(await metricValue(p, 'training_live_latency_seconds_bucket', 'le="1"'), 0, 'not in a bucket below 2 s')

  // A second process on the same queue is a standby consumer: the broker counts both.
  const standby = await startOwn()
  await eventually('two consumers', () => metricValue(standby, 'training_queue_consumers'), v => v === 2)
})

t.test('readiness changes are counted: Redis goes away and comes back', async t => {
  const redis = await OwnedRedis.start()
  t.teardown(() => redis.destroy())
  const p = await start({ ...topology.env, REDIS_URL: redis.url })
  // Its start counts too (not ready, then ready) when /ready was asked before it was ready.
  const before = await metricValue(p, 'training_ready_transitions_total')
  await redis.kill()
  await eventually('/ready 503', () => fetch(`${p.url}/ready`).then(r => r.status), s => s === 503)
  t.equal(await metricValue(p, 'training_ready'), 0)
  await redis.start()
  await eventually('/ready 200', () => fetch(`${p.url}/ready`).then(r => r.status), s => s === 200)
  t.equal(await metricValue(p, 'training_ready'), 1)
  t.equal(await metricValue(p, 'training_ready_transitions_total') - before, 2, 'down once, up once')
})

t.test('QueueStats reads the depth of a queue nobody consumes, and survives the queue going away', async t => {
  const queue = `test.${uniqueId('stats')}`
  const connection = await amqplib.connect(AMQP_URL)
  t.teardown(() => connection.close())
  const channel = await connection.createChannel()
  await channel.assertQueue(queue, { autoDelete: false })
  for (let i = 0; i < 3; i++) channel.sendToQueue(queue, Buffer.from('{}'))
  const registry = new Registry()
  const metrics = createTrainingMetrics(registry)
  const stats = new QueueStats(queue, metrics)
  t.equal(await stats.read(), false, 'nothing to read on before attach')
  stats.attach(connection)
  await eventually('three waiting', async () => { await stats.read(); return (await metrics.queueMessages.get()).values[0]?.value }, v => v === 3)
  t.equal((await metrics.queueConsumers.get()).values[0]?.value, 0)
  await channel.deleteQueue(queue)
  t.equal(await stats.read(), false, 'a missing queue is a failed read (its channel closes)')
  await channel.assertQueue(queue, { autoDelete: false })
  t.teardown(() => channel.deleteQueue(queue))
  t.equal(await stats.read(), true, 'reads again on a new channel')
  t.equal((await metrics.queueMessages.get()).values[0]?.value, 0)
  stats.detach()
  t.equal(await stats.read(), false, 'detached: no read')
})

t.test('the queue deleted under a running replica: it declares it again and consumes on', async t => {
  const { own, start: startOwn } = ownTopology(t, 'ops-requeue')
  const p = await startOwn()
  const connection = await amqplib.connect(AMQP_URL)
  t.teardown(() => connection.close())
  const channel = await connection.createChannel()
  await channel.deleteQueue(own.queue)
  // The broker cancels the consumer; the replica opens a new channel, which declares the queue again.
  await eventually('the queue back, with its consumer', async () => {
    const probe = await connection.createChannel()
    probe.on('error', () => {})
    try { return (await probe.checkQueue(own.queue)).consumerCount } catch { return 0 } finally { await probe.close().catch(() => {}) }
  }, n => n === 1)
  t.equal((await fetch(`${p.url}/ready`)).status, 200, 'ready again')
  t.match(p.output(), /the broker cancelled the consumer/)

  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = new LiveClient(liveUrl(p.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
  t.teardown(() => client.close())
  await client.waitFor(m => m.length === 1, 10_000, 'the snapshot')
  const publisher = await createPublisher({ url: own.env.AMQP_URL, exchange: own.exchange })
  t.teardown(() => publisher.close())
  for (const e of jobEvents(tenantId, jobId, ['a', 'b'])) await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
  await client.waitFor(m => m.at(-1)?.type === 'completed', 20_000, 'the job to complete')
  t.same(client.events.map(m => m.progress), [0, 20, 50, 80, 100], 'every event applied after the queue came back')
})
