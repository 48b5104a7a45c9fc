/**
 * Limits against hostile and broken clients, on a real training process
 * connected to directly: connections per process (503) and per tenant
 * (429), refused at the handshake and released when sockets close; the
 * inbound message rate (1008); and the handshake timeout (a client that
 * connects but never finishes its request is dropped).
 */
import t from 'tap'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConnectionLimiter, TokenBucket } from '@training-live/service-kit'
import {
  LiveClient, deleteKeys, deleteTopology, eventually, liveUrl, metricValue as metric, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
  , within, rawConnection, type RawConnection
} from '@training-live/test-kit'
import { loadTrainingConfig } from '../src/config.ts'

const topology = testTopology('limits')
const service = await startService('training', {
  timeoutMs: 60_000,
  env: {
    ...topology.env,
    MAX_CONNECTIONS: '3',
    MAX_CONNECTIONS_PER_TENANT: '2',
    MAX_INBOUND_MESSAGES_PER_SECOND: '20',
    HANDSHAKE_TIMEOUT_MS: '1000'
  }
})
const clients: LiveClient[] = []
const rawSockets: Socket[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  for (const s of rawSockets) s.destroy()
  await service.stop()
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

function open (service: ServiceProcess, tenantId: string, token: string): LiveClient {
  const client = new LiveClient(liveUrl(service.wsUrl, tenantId, uniqueId('job'), { token }))
  clients.push(client)
  return client
}

/** Opens a live socket and waits for the snapshot. */
async function watch (service: ServiceProcess, tenantId = uniqueId('tenant')): Promise<LiveClient> {
  const client = open(service, tenantId, await mintToken({ tenantId }))
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

/** The status, headers and JSON body a refused handshake was answered with. */
async function refusal (service: ServiceProcess, tenantId = uniqueId('tenant')): Promise<{ status: number, retryAfter: string | undefined, body: { code?: string } }> {
  const client = open(service, tenantId, await mintToken({ tenantId }))
  const response = new Promise<{ status: number, retryAfter: string | undefined, body: { code?: string } }>((resolve, reject) => {
    client.socket.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => {
        const header = res.headers['retry-after']
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(header) ? header[0] : header, body: JSON.parse(text) as { code?: string } })
      })
    })
    client.socket.once('open', () => reject(new Error('the handshake was accepted')))
  })
  return response
}

/** Closes clients and waits until the service has seen every socket go, so the next test starts with free slots. */
async function closeAll (...some: LiveClient[]): Promise<void> {
  for (const c of some) c.close()
  await eventually('the service to see the sockets close', async () => await metric(service, 'training_live_connections') === 0, 10_000)
}

async function trackedRaw (port: string): Promise<RawConnection> {
  const raw = await rawConnection(port)
  rawSockets.push(raw.socket)
  return raw
}

t.test('configuration: defaults and bounds of the limits', async t => {
  const c = loadTrainingConfig({})
  t.equal(c.MAX_CONNECTIONS, 10_000)
  t.equal(c.MAX_CONNECTIONS_PER_TENANT, 1000)
  t.equal(c.MAX_INBOUND_MESSAGES_PER_SECOND, 20)
  t.equal(c.HANDSHAKE_TIMEOUT_MS, 10_000)
  for (const [name, value] of [
    ['MAX_CONNECTIONS', '0'], ['MAX_CONNECTIONS', 'many'], ['MAX_CONNECTIONS_PER_TENANT', '0'],
    ['MAX_INBOUND_MESSAGES_PER_SECOND', '0'], ['MAX_INBOUND_MESSAGES_PER_SECOND', '1.5'],
    ['HANDSHAKE_TIMEOUT_MS', '10'], ['HANDSHAKE_TIMEOUT_MS', '600001']
  ] as const) {
    t.throws(() => loadTrainingConfig({ [name]: value }), new RegExp(name), `${name}=${value} is refused`)
  }
})

t.test('ConnectionLimiter counts per process and per tenant', async t => {
  const limiter = new ConnectionLimiter({ maxConnections: 3, maxPerTenant: 2 })
  t.equal(limiter.tryAcquire('a'), 'ok')
  t.equal(limiter.tryAcquire('a'), 'ok')
  t.equal(limiter.tryAcquire('a'), 'tenant', 'a third for one tenant')
  t.equal(limiter.tryAcquire('b'), 'ok')
  t.equal(limiter.tryAcquire('c'), 'process', 'a fourth in all')
  t.equal(limiter.tryAcquire('a'), 'tenant', 'a tenant over its own limit is told so first')
  limiter.release('a')
  t.equal(limiter.countOf('a'), 1)
  t.equal(limiter.tryAcquire('c'), 'ok')
  limiter.release('nobody')
  t.equal(limiter.total, 3, 'a release without an acquire changes nothing')
  for (const tenant of ['a', 'b', 'c']) limiter.release(tenant)
  t.equal(limiter.total, 0)
  t.equal(limiter.countOf('a'), 0)
})

t.test('TokenBucket: a burst equal to the rate, then the rate', async t => {
  let now = 0
  const bucket = new TokenBucket(20, 20, () => now)
  let taken = 0
  while (bucket.take()) taken++
  t.equal(taken, 20, 'the burst')
  now += 50
  t.equal(bucket.take(), true, 'one token every 50 ms')
  t.equal(bucket.take(), false)
  now += 10_000
  taken = 0
  while (bucket.take()) taken++
  t.equal(taken, 20, 'never more saved up than the burst')
})

t.test('MAX_CONNECTIONS: the 4th handshake gets 503 with Retry-After; after one closes, a new one succeeds', async t => {
  const refusedBefore = await metric(service, 'training_connections_refused_total', 'code="TRAINING_TOO_MANY_CONNECTIONS"')
  const open3 = [await watch(service), await watch(service), await watch(service)]
  const refused = await refusal(service)
  t.equal(refused.status, 503)
  t.equal(refused.body.code, 'TRAINING_TOO_MANY_CONNECTIONS')
  t.equal(refused.retryAfter, '5')
  t.equal(await metric(service, 'training_connections_refused_total', 'code="TRAINING_TOO_MANY_CONNECTIONS"'), refusedBefore + 1, 'counted')
  for (const c of open3) t.equal(c.closed, null, 'the others stay open')

  const first = open3[0] as LiveClient
  first.close()
  await eventually('the slot to be released', async () => await metric(service, 'training_live_connections') === 2, 10_000)
  const again = await watch(service)
  t.equal(again.closed, null, 'a new handshake succeeds')
  await closeAll(...open3, again)
})

t.test('MAX_CONNECTIONS_PER_TENANT: the 3rd of tenant A gets 429 while tenant B connects', async t => {
  const a = uniqueId('tenant_a')
  const a1 = await watch(service, a)
  const a2 = await watch(service, a)
  const refused = await refusal(service, a)
  t.equal(refused.status, 429)
  t.equal(refused.body.code, 'TRAINING_TENANT_CONNECTION_LIMIT')
  t.equal(refused.retryAfter, '30')
  t.equal(await metric(service, 'training_connections_refused_total', 'code="TRAINING_TENANT_CONNECTION_LIMIT"'), 1, 'counted')
  const b = await watch(service, uniqueId('tenant_b'))
  t.equal(b.closed, null, 'another tenant still connects')
  await closeAll(a1, a2, b)
})

t.test('a refused token takes no slot, and slots are released when sockets close (20 rounds at the limit)', async t => {
  const tenantId = uniqueId('tenant')
  // Refused before the limit is looked at: these must not hold slots.
  for (let i = 0; i < 5; i++) {
    const bad = open(service, tenantId, await mintToken({ tenantId, expiresIn: -10 }))
    const status = await bad.opened.then(() => 0, (err: { statusCode?: number }) => err.statusCode)
    t.equal(status, 401, 'expired token refused')
  }
  for (let round = 0; round < 20; round++) {
    const pair = [await watch(service, tenantId), await watch(service, tenantId)]
    await closeAll(...pair)
  }
  t.pass('20 rounds of two connections at a limit of two')
  const last = await watch(service, tenantId)
  t.equal(last.closed, null)
  await closeAll(last)
})

t.test('a plain HTTP request to the live route does not keep a slot on a keep-alive connection', async t => {
  const tenantId = uniqueId('tenant')
  const token = await mintToken({ tenantId })
  const url = liveUrl(service.url, tenantId, uniqueId('job'), { token })
  // fetch keeps the connection alive between these; each answer must give its slot back.
  for (let i = 0; i < 4; i++) t.equal((await fetch(url)).status, 404, 'not a WebSocket request')
  const pair = [await watch(service, tenantId), await watch(service, tenantId)]
  t.equal(pair[1]?.closed, null, 'the tenant still has both its slots')
  await closeAll(...pair)
})

t.test('a client over MAX_INBOUND_MESSAGES_PER_SECOND is closed with 1008 and counted', async t => {
  const before = await metric(service, 'training_live_disconnects_total', 'reason="message_rate"')
  const flooder = await watch(service)
  const other = await watch(service)
  for (let i = 0; i < 200; i++) flooder.socket.send('{"type":"ping"}')
  const closed = await within(flooder.closedPromise, 10_000, 'the flooder to be closed')
  t.equal(closed.code, 1008)
  t.equal(closed.reason, 'message rate exceeded')
  const pongs = flooder.messages.filter(m => m.type === 'pong').length
  t.ok(pongs >= 15 && pongs <= 25, `about the burst was answered (${pongs} pongs)`)
  await eventually('the cut to be counted', async () => await metric(service, 'training_live_disconnects_total', 'reason="message_rate"') === before + 1, 10_000)
  t.equal(other.closed, null, 'another client is untouched')
  await closeAll(flooder, other)
})

t.test('a client sending 5 pings a second for 3 s stays open', async t => {
  const client = await watch(service)
  for (let i = 0; i < 15; i++) {
    client.socket.send('{"type":"ping"}')
    await sleep(200)
  }
  await client.waitFor(m => m.filter(x => x.type === 'pong').length === 15, 10_000, '15 pongs')
  t.equal(client.closed, null)
  await closeAll(client)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that sends a partial request line and stops is dropped', async t => {
  const raw = await trackedRaw(service.port)
  raw.socket.write('GET / HTTP/1.1\r\n')
  const after = await within(raw.closedAfter, 5000, 'the server to close the socket')
  t.ok(after >= 800, `not before the timeout (${after} ms)`)
  t.ok(after < 4000, `within a bounded time (${after} ms)`)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that connects and sends nothing is dropped', async t => {
  const raw = await trackedRaw(service.port)
  const after = await within(raw.closedAfter, 5000, 'the server to close the socket')
  t.ok(after < 4000, `closed after ${after} ms`)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that trickles its headers (slowloris) is dropped', async t => {
  const raw = await trackedRaw(service.port)
  raw.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
  const state = { closed: false }
  void raw.closedAfter.then(() => { state.closed = true })
  const trickle = (async () => {
    for (let i = 0; i < 50 && !state.closed; i++) {
      await sleep(200)
      if (!state.closed && raw.socket.writable) raw.socket.write(`X-Slow-${i}: y\r\n`)
    }
  })()
  const after = await within(raw.closedAfter, 6000, 'the server to close the trickling socket')
  await trickle
  t.ok(after < 5000, `closed after ${after} ms although it kept sending`)
})

t.test('an upgraded WebSocket idle for longer than HANDSHAKE_TIMEOUT_MS stays open', async t => {
  const client = await watch(service)
  await sleep(3500)
  t.equal(client.closed, null)
  client.socket.send('{"type":"ping"}')
  await client.waitFor(m => m.some(x => x.type === 'pong'), 10_000, 'pong')
  await closeAll(client)
})
