/**
 * Redis or the broker away: new live clients are refused at the handshake
 * with 503 and Retry-After (never upgraded to wait in silence), /ready
 * follows Redis within its PING deadline (a paused server as well as a
 * refused connection), the consumer stops taking deliveries it cannot
 * apply, and SIGTERM exits cleanly without waiting for Redis. Redis is a
 * server this test owns; the broker is reached through a proxy it owns.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { promisify } from 'node:util'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  OwnedRedis, LiveClient, deleteTopology, eventually, liveUrl, metricValue, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess, type Topology
} from '@training-live/test-kit'
import { TcpProxy, jobOf, publishPaced, readyBecomes } from './helpers/faults.ts'

const run = promisify(execFile)

interface Stack {
  redis: OwnedRedis
  broker: TcpProxy
  topology: Topology
  training: ServiceProcess
  gateway: ServiceProcess
  publisher: Publisher
}

async function stack (t: Test, env: Record<string, string> = {}): Promise<Stack> {
  const topology = testTopology('faults-unavailable')
  const started: ServiceProcess[] = []
  const s: Partial<Stack> = { topology }
  t.teardown(async () => {
    await s.publisher?.close()
    await Promise.all(started.map(p => p.stop('SIGKILL')))
    await s.broker?.close()
    await s.redis?.destroy()
    await deleteTopology(topology)
  })
  s.redis = await OwnedRedis.start()
  s.broker = await new TcpProxy(5672).listen()
  const amqpUrl = new URL(topology.env.AMQP_URL as string)
  amqpUrl.port = String(s.broker.port)
  s.training = await startService('training', { env: { ...topology.env, AMQP_URL: amqpUrl.toString(), REDIS_URL: s.redis.url, ...env } })
  started.push(s.training)
  s.gateway = await startService('gateway', { env: { TRAINING_URLS: s.training.url } })
  started.push(s.gateway)
  s.publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  return s as Stack
}

interface Handshake { status: number, retryAfter: string | undefined, body: string }

/** A WebSocket handshake that reports the HTTP answer (an upgrade is 101) without keeping the socket. */
function handshake (base: string, tenantId: string, jobId: string, token: string): Promise<Handshake> {
  const url = new URL(liveUrl(base.replace(/^ws/, 'http'), tenantId, jobId, { token }))
  return new Promise((resolve, reject) => {
    const req = request(url, {
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' }
    })
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, retryAfter: undefined, body: '' }) })
    req.on('response', res => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function assertRefused (t: Test, s: Stack, what: string): Promise<void> {
  const tenantId = uniqueId('tenant')
  const token = await mintToken({ tenantId })
  const direct = await handshake(s.training.wsUrl, tenantId, uniqueId('job'), token)
  t.equal(direct.status, 503, `${what}: the training service refuses a new live client with 503, not an upgrade`)
  t.ok(Number(direct.retryAfter) > 0, `${what}: … with Retry-After (${direct.retryAfter})`)
  t.equal(JSON.parse(direct.body).code, 'TRAINING_UNAVAILABLE', `${what}: … and a code saying why`)
  const proxied = await handshake(s.gateway.wsUrl, tenantId, uniqueId('job'), token)
  t.equal(proxied.status, 503, `${what}: through the gateway, 503 before any upgrade`)
  t.ok(Number(proxied.retryAfter) > 0, `${what}: … with Retry-After (${proxied.retryAfter})`)
}

async function queueCounts (queue: string): Promise<{ ready: number, unacked: number }> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged'])
  for (const line of stdout.split('\n')) {
    const [name, ready, unacked] = line.trim().split('\t')
    if (name === queue) return { ready: Number(ready), unacked: Number(unacked) }
  }
  throw new Error(`queue ${queue} not listed`)
}

t.test('Redis paused: /ready turns 503 while it sleeps, new clients get 503 with Retry-After, and all is back once it answers', async t => {
  const s = await stack(t)
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const before = new LiveClient(liveUrl(s.gateway.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
  t.teardown(() => before.close())
  await before.waitFor(m => m.length > 0, 10_000, 'snapshot')

  let sleeping = true
  // Long enough that the PING deadline (1 s) falls well inside it on a loaded machine.
  const pause = s.redis.cli('DEBUG', 'SLEEP', '8').finally(() => { sleeping = false })
  await readyBecomes(s.training.url, 503, 8000)
  t.ok(sleeping, '/ready answered 503 while Redis was still paused')
  await assertRefused(t, s, 'paused')
  t.ok(sleeping, 'the refusals came while Redis was still paused')
  await pause
  await readyBecomes(s.training.url, 200)
  t.pass('/ready answers 200 again once Redis answers')

  // The socket opened before the pause is still served.
  const events = jobOf(tenantId, jobId, 3)
  await publishPaced(s.publisher, events, 0).done
  t.equal((await before.closedPromise).code, 1000, 'the client connected before the pause got the whole job')
  t.equal(before.messages.filter(m => m.id !== undefined).length, events.length, '… every event once')
  const after = new LiveClient(liveUrl(s.gateway.wsUrl, tenantId, uniqueId('job'), { token: await mintToken({ tenantId }) }))
  t.teardown(() => after.close())
  await after.waitFor(m => m[0]?.type === 'connected', 10_000, 'snapshot')
  t.pass('a new client is upgraded and gets its snapshot again')
})

t.test('Redis down: clients refused, deliveries wait in the queue (none held unacked), then all applied once it is back', async t => {
  const s = await stack(t)
  await s.redis.kill()
  await readyBecomes(s.training.url, 503)
  await assertRefused(t, s, 'Redis down')

  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const events = jobOf(tenantId, jobId, 100)
  await publishPaced(s.publisher, events, 0).done
  await eventually('the published events counted in the queue', async () => {
    const c = await queueCounts(s.topology.queue)
    return c.ready + c.unacked === events.length
  })
  t.same(await queueCounts(s.topology.queue), { ready: events.length, unacked: 0 }, 'every event waits in the queue; the paused consumer took none')
  t.equal(await metricValue(s.training, 'training_redis_connected'), 0, 'training_redis_connected is 0')

  await s.redis.start()
  await readyBecomes(s.training.url, 200)
  const client = new LiveClient(liveUrl(s.gateway.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }), last_id: '0-0' }))
  t.teardown(() => client.close())
  t.equal((await client.closedPromise).code, 1000, 'the job completed once Redis was back')
  t.equal(client.messages.filter(m => m.id !== undefined).length, events.length, 'every event held in the queue was applied once')
})

t.test('SIGTERM while Redis is paused with events in flight: exit 0 without waiting for Redis, and the events are applied later', async t => {
  const s = await stack(t, { SHUTDOWN_GRACE_MS: '60000' })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const events = jobOf(tenantId, jobId, 300)
  const publishing = publishPaced(s.publisher, events, 2)
  await eventually('some events applied', async () => await metricValue(s.training, 'training_events_total', 'outcome="applied"') > 20)

  let sleeping = true
  const pause = s.redis.cli('DEBUG', 'SLEEP', '10').finally(() => { sleeping = false })
  await readyBecomes(s.training.url, 503, 10_000)
  const code = await s.training.stop('SIGTERM')
  t.ok(sleeping, 'the service ended while Redis was still paused')
  t.equal(code, 0, 'exit code 0')
  t.notMatch(s.training.output(), /killed by timeout/, 'the drain did not run into its grace period')
  await pause
  await publishing.done

  // Whatever it had taken went back to the queue: a new replica applies every event once.
  const topologyEnv = { ...s.topology.env, REDIS_URL: s.redis.url }
  const next = await startService('training', { env: topologyEnv })
  t.teardown(() => next.stop('SIGKILL'))
  const client = new LiveClient(liveUrl(next.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }), last_id: '0-0' }))
  t.teardown(() => client.close())
  t.equal((await client.closedPromise).code, 1000, 'the job completed on the next replica')
  const ids = client.messages.filter(m => m.id !== undefined).map(m => m.id)
  t.equal(ids.length, events.length, 'every event applied, none lost')
  t.equal(new Set(ids).size, ids.length, 'none applied twice')
})

t.test('broker away: clients refused with 503 and Retry-After, /ready 503, SIGTERM exits 0', async t => {
  const s = await stack(t, { SHUTDOWN_GRACE_MS: '60000' })
  s.broker.cut()
  await readyBecomes(s.training.url, 503)
  await assertRefused(t, s, 'broker away')
  s.broker.restore()
  await readyBecomes(s.training.url, 200)
  const tenantId = uniqueId('tenant')
  const ok = await handshake(s.training.wsUrl, tenantId, uniqueId('job'), await mintToken({ tenantId }))
  t.equal(ok.status, 101, 'upgraded again once the broker is back')

  s.broker.cut()
  await readyBecomes(s.training.url, 503)
  const code = await s.training.stop('SIGTERM')
  t.equal(code, 0, 'SIGTERM with the broker away: exit code 0')
  t.notMatch(s.training.output(), /killed by timeout/, 'the drain did not run into its grace period')
})
