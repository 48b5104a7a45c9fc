/**
 * The gateway as a proxy, through real processes and sockets: failover past
 * dead replicas, 503 when none answers, frames unchanged both ways, close
 * codes both ways, upstream loss (1011) and restart (1012), and a fast
 * upstream through a client that must get every frame in order.
 */
import t from 'tap'
import { once } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import {
  LiveClient, deleteKeys, deleteTopology, freePort, liveUrl, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
  , metricValue as metric
} from '@training-live/test-kit'

const topology = testTopology('gw_proxy')
const processes: ServiceProcess[] = []
const clients: LiveClient[] = []

const fake = await startFakeUpstream()

t.teardown(async () => {
  for (const c of clients) c.close()
  await Promise.all(processes.map(p => p.stop()))
  for (const socket of fake.server.clients) socket.terminate()
  await new Promise(resolve => fake.server.close(resolve))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

/** A replica that stays up for the whole file. */
const replica = await start('training', { env: topology.env })
/** A port nobody listens on. */
const deadUrl = `http://127.0.0.1:${await freePort()}`

async function start (service: 'training' | 'gateway', options: Parameters<typeof startService>[1]): Promise<ServiceProcess> {
  // Generous: the machine may be busy with other test files' processes.
  const proc = await startService(service, { timeoutMs: 60_000, ...options })
  processes.push(proc)
  return proc
}

/** Sums every sample of one metric. */

/** Connects through `gateway` and waits until the handshake is done. */
async function connect (gateway: ServiceProcess, tenantId = uniqueId('tenant'), jobId = uniqueId('job')): Promise<LiveClient> {
  const token = await mintToken({ tenantId })
  const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))
  clients.push(client)
  await client.opened
  return client
}

async function connectWithSnapshot (gateway: ServiceProcess): Promise<LiveClient> {
  const client = await connect(gateway)
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

/** One connection the fake upstream accepted. */
interface FakeConnection {
  socket: WebSocket
  url: string
  headers: IncomingHttpHeaders
  received: Array<{ data: Buffer, isBinary: boolean }>
  /** Resolves once at least `n` frames have been received. */
  receivedAtLeast: (n: number) => Promise<void>
  closed: Promise<{ code: number, reason: string }>
}

/**
 * A stand-in for the training service: accepts every handshake, records
 * what it receives, and does only what the test tells it to.
 */
async function startFakeUpstream () {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await once(server, 'listening')
  const byJob = new Map<string, FakeConnection>()
  const waiters = new Map<string, (c: FakeConnection) => void>()
  server.on('connection', (socket, req) => {
    const url = req.url ?? ''
    const jobId = decodeURIComponent(url.split('?')[0]?.split('/')[7] ?? '')
    const received: FakeConnection['received'] = []
    const receivedAtLeast = async (n: number) => {
      while (received.length < n) await once(socket, 'message')
    }
    socket.on('message', (data: RawData, isBinary: boolean) => { received.push({ data: Buffer.from(data as Buffer), isBinary }) })
    socket.on('error', () => {})
    const closed = new Promise<{ code: number, reason: string }>(resolve => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    const connection = { socket, url, headers: req.headers, received, receivedAtLeast, closed }
    byJob.set(jobId, connection)
    waiters.get(jobId)?.(connection)
  })
  const { port } = server.address() as { port: number }
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    /** The upstream connection opened for a job, once it exists. */
    connection (jobId: string): Promise<FakeConnection> {
      const existing = byJob.get(jobId)
      if (existing !== undefined) return Promise.resolve(existing)
      return new Promise(resolve => waiters.set(jobId, resolve))
    }
  }
}

t.test('failover: a dead replica listed first is skipped on every connection', async t => {
  const gateway = await start('gateway', { env: { TRAINING_URLS: `${deadUrl},${replica.url}` } })
  const before = await metric(gateway, 'gateway_upstream_failures_total')
  for (let i = 0; i < 4; i++) {
    const client = await connectWithSnapshot(gateway)
    t.equal(client.messages[0]?.type, 'connected', `connection ${i + 1} got its snapshot`)
    client.socket.close(1000)
    await client.closedPromise
  }
  const after = await metric(gateway, 'gateway_upstream_failures_total')
  t.ok(after > before, `gateway_upstream_failures_total increased (${before} -> ${after})`)
  const text = await (await fetch(`${gateway.url}/metrics`)).text()
  t.match(text, `gateway_upstream_failures_total{upstream="${deadUrl}"}`, 'the failure is counted against the dead replica')
  t.notMatch(text, `gateway_upstream_failures_total{upstream="${replica.url}"}`, 'never against the live one')
  t.equal(await metric(gateway, 'gateway_connections_accepted_total'), 4, 'all four accepted')

  const ready = await fetch(`${gateway.url}/ready`)
  t.equal(ready.status, 200, '/ready is 200 while one replica is ready')
  t.match(await ready.json(), { status: 'ready', checks: { upstream: true } })
})

t.test('every upstream dead: 503 at the handshake, /ready 503', async t => {
  const gateway = await start('gateway', {
    env: { TRAINING_URLS: `${deadUrl},http://127.0.0.1:${await freePort()}` },
    waitFor: 'health'
  })
  const tenantId = uniqueId('tenant')
  const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, uniqueId('job'), { token: await mintToken({ tenantId }) }))
  clients.push(client)
  const err = await client.opened.then(() => null, (e: unknown) => e as { statusCode?: number, body?: string })
  t.equal(err?.statusCode, 503, 'refused with 503, no upgrade')
  t.match(JSON.parse(err?.body ?? '{}'), { statusCode: 503, code: 'GATEWAY_UPSTREAM_UNAVAILABLE' })
  t.equal(await metric(gateway, 'gateway_upstream_failures_total'), 2, 'both replicas tried once')

  const ready = await fetch(`${gateway.url}/ready`)
  t.equal(ready.status, 503, '/ready is 503 with no replica')
  t.match(await ready.json(), { status: 'not_ready', checks: { upstream: false } })
  t.equal((await fetch(`${gateway.url}/health`)).status, 200, '/health stays 200: the process is alive')
})

t.test('frames pass unchanged: ping through the gateway gets exactly {"type":"pong"}', async t => {
  const gateway = await start('gateway', { env: { TRAINING_URLS: replica.url } })
  const client = await connectWithSnapshot(gateway)
  client.socket.send('{"type":"ping"}')
  await client.waitFor(m => m.some(x => x.type === 'pong'), 10_000, 'pong')
  t.equal(client.raw.at(-1), '{"type":"pong"}', 'the exact bytes the training service sent')
  t.equal(client.raw.length, 2, 'snapshot, then pong')
})

t.test('upstream loss (SIGKILL): the client is closed with 1011', async t => {
  const training = await start('training', { env: topology.env })
  const gateway = await start('gateway', { env: { TRAINING_URLS: training.url } })
  const client = await connectWithSnapshot(gateway)
  await training.stop('SIGKILL')
  const { code, reason } = await client.closedPromise
  t.equal(code, 1011, 'closed with 1011, so the client resumes with last_id')
  t.equal(reason, 'upstream lost')
  t.equal(await metric(gateway, 'gateway_upstream_lost_total'), 1, 'gateway_upstream_lost_total is 1')
  t.equal(await metric(gateway, 'gateway_live_connections'), 0, 'no connection left open')
})

t.test('graceful training shutdown (SIGTERM): the client is closed with 1012', async t => {
  const training = await start('training', { env: topology.env })
  const gateway = await start('gateway', { env: { TRAINING_URLS: training.url } })
  const client = await connectWithSnapshot(gateway)
  const [closed, exitCode] = await Promise.all([client.closedPromise, training.stop('SIGTERM')])
  t.equal(closed.code, 1012, 'closed with 1012, so the client resumes with last_id')
  t.equal(closed.reason, 'service restart', 'the upstream reason is passed on')
  t.equal(exitCode, 0, 'the training service exited cleanly')
  t.equal(await metric(gateway, 'gateway_upstream_lost_total'), 0, 'a graceful close is not a loss')
})

t.test('a fake upstream behind the gateway', async t => {
  // The fake has no /ready, so the gateway never becomes ready: wait for /health only.
  const gateway = await start('gateway', { env: { TRAINING_URLS: fake.url }, waitFor: 'health' })

  t.test('the handshake forwards the token as a header, never in the URL', async t => {
    const tenantId = uniqueId('tenant')
    const jobId = uniqueId('job')
    const token = await mintToken({ tenantId })
    const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token, last_id: '5-1' }))
    clients.push(client)
    await client.opened
    const upstream = await fake.connection(jobId)
    t.equal(upstream.headers.authorization, `Bearer ${token}`)
    t.equal(upstream.url, `/api/v1/tenants/${tenantId}/training/jobs/${jobId}/live?last_id=5-1`, 'path and last_id only')
    t.notMatch(upstream.url, 'token')
    client.socket.close(1000)
    await upstream.closed
  })

  t.test('frames pass unchanged both ways, text and binary', async t => {
    const tenantId = uniqueId('tenant')
    const jobId = uniqueId('job')
    const client = await connect(gateway, tenantId, jobId)
    const upstream = await fake.connection(jobId)
    const binary = Buffer.from([0, 1, 2, 254, 255])
    const kinds: boolean[] = []
    client.socket.on('message', (_data, isBinary) => { kinds.push(isBinary) })

    client.socket.send('{"type":"ping"}')
    client.socket.send(binary)
    const downText = '{ "odd":  "spacing" ,"n":1.50 }'
    upstream.socket.send(downText)
    upstream.socket.send(Buffer.from('{"as":"binary"}'), { binary: true })
    await client.waitFor(m => m.length >= 2, 10_000, 'two frames from the upstream')
    t.same(client.raw, [downText, '{"as":"binary"}'], 'downstream bytes unchanged')
    t.same(kinds, [false, true], 'downstream text stays text, binary stays binary')

    await upstream.receivedAtLeast(2)
    t.equal(upstream.received.length, 2, 'both frames reached the upstream')
    t.equal(upstream.received[0]?.data.toString(), '{"type":"ping"}')
    t.equal(upstream.received[0]?.isBinary, false)
    t.same(upstream.received[1]?.data, binary)
    t.equal(upstream.received[1]?.isBinary, true)
    client.socket.close(1000)
    await upstream.closed
  })

  t.test("the client's close code and reason reach the upstream", async t => {
    const jobId = uniqueId('job')
    const client = await connect(gateway, uniqueId('tenant'), jobId)
    const upstream = await fake.connection(jobId)
    client.socket.close(4000, 'bye')
    t.same(await upstream.closed, { code: 4000, reason: 'bye' })
    t.equal((await client.closedPromise).code, 4000, 'the client sees its own close acknowledged')
  })

  t.test("the upstream's close code and reason reach the client", async t => {
    const jobId = uniqueId('job')
    const client = await connect(gateway, uniqueId('tenant'), jobId)
    const upstream = await fake.connection(jobId)
    upstream.socket.close(4002, 'custom')
    t.same(await client.closedPromise, { code: 4002, reason: 'custom' })
    t.same(await upstream.closed, { code: 4002, reason: 'custom' }, 'the client echoed the close back through the gateway')
  })

  t.test('the longest valid job id (128 characters) reaches the upstream; 129 is refused with 400', async t => {
    const tenantId = uniqueId('tenant')
    const jobId = `${uniqueId('job')}${'x'.repeat(128)}`.slice(0, 128)
    const client = await connect(gateway, tenantId, jobId)
    const upstream = await fake.connection(jobId)
    t.equal(upstream.url, `/api/v1/tenants/${tenantId}/training/jobs/${jobId}/live`)
    client.socket.close(1000)
    await upstream.closed

    const token = await mintToken({ tenantId })
    const tooLong = new LiveClient(liveUrl(gateway.wsUrl, tenantId, `${jobId}y`, { token }))
    clients.push(tooLong)
    const err = await tooLong.opened.then(() => null, (e: unknown) => e as { statusCode?: number })
    t.equal(err?.statusCode, 400)
  })

  t.test('backpressure: 2,000 frames of 1 KiB sent at once all arrive, in order', async t => {
    const jobId = uniqueId('job')
    const client = await connect(gateway, uniqueId('tenant'), jobId)
    const upstream = await fake.connection(jobId)
    const pad = 'x'.repeat(1000)
    const frames: string[] = []
    for (let seq = 0; seq < 2000; seq++) frames.push(JSON.stringify({ seq, pad }).padEnd(1024, ' '))
    for (const frame of frames) upstream.socket.send(frame)
    await client.waitFor(m => m.length >= 2000, 60_000, '2,000 frames')
    t.equal(client.raw.length, 2000, 'no frame lost or duplicated')
    t.ok(client.raw.every((raw, i) => raw === frames[i]), 'every frame unchanged and in order')
    t.equal(client.closed, null, 'the connection is still open')
    client.socket.close(1000)
    await upstream.closed
  })
})
