/**
 * Limits against hostile and broken clients at the gateway, through real
 * processes in front of a real training service: connections per process
 * (503) and per tenant (429), refused at the handshake before any upstream
 * is opened and released when sockets close or the handshake fails later;
 * the inbound message rate (1008); and the handshake timeout.
 */
import t from 'tap'
import { once } from 'node:events'
import { connect as tcpConnect, type Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { FrameType, LINK_PATH } from '@training-live/service-kit'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  LiveClient, deleteKeys, deleteTopology, eventually, liveUrl, metricValue as metric, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
  , within, rawConnection, type RawConnection
} from '@training-live/test-kit'
import { loadGatewayConfig } from '../src/config.ts'

const topology = testTopology('gw_limits')
const processes: ServiceProcess[] = []
const clients: LiveClient[] = []
const rawSockets: Socket[] = []

/** A replica that accepts the gateway's link and never answers on it: each session's opening times out. */
const silent = new WebSocketServer({ host: '127.0.0.1', port: 0, path: LINK_PATH })
await once(silent, 'listening')
let opensReceived = 0
silent.on('connection', socket => {
  socket.on('message', (data: Buffer) => { if (data[0] === FrameType.Open) opensReceived++ })
})
const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`

t.teardown(async () => {
  for (const c of clients) c.close()
  for (const s of rawSockets) s.destroy()
  await Promise.all(processes.map(p => p.stop()))
  for (const socket of silent.clients) socket.terminate()
  await new Promise(resolve => silent.close(resolve))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

async function start (service: 'training' | 'gateway', options: Parameters<typeof startService>[1]): Promise<ServiceProcess> {
  // Generous: the machine may be busy with other test files' processes.
  const proc = await startService(service, { timeoutMs: 60_000, ...options })
  processes.push(proc)
  return proc
}

const training = await start('training', { env: topology.env })
const [gateway, stuck] = await Promise.all([
  start('gateway', {
    env: {
      TRAINING_URLS: training.url,
      MAX_CONNECTIONS: '3',
      MAX_CONNECTIONS_PER_TENANT: '2',
      MAX_INBOUND_MESSAGES_PER_SECOND: '20',
      HANDSHAKE_TIMEOUT_MS: '1000'
    }
  }),
  // One slot, and a replica that never answers: every handshake that gets a slot ends in 503 UPSTREAM_UNAVAILABLE.
  start('gateway', {
    env: { TRAINING_URLS: silentUrl, UPSTREAM_CONNECT_TIMEOUT_MS: '1000', MAX_CONNECTIONS: '1' },
    waitFor: 'health'
  })
]) as [ServiceProcess, ServiceProcess]

function open (service: ServiceProcess, tenantId: string, jobId: string, token: string): LiveClient {
  const client = new LiveClient(liveUrl(service.wsUrl, tenantId, jobId, { token }))
  clients.push(client)
  return client
}

/** Opens a live socket through `service` and waits for the snapshot. */
async function watch (service: ServiceProcess, tenantId = uniqueId('tenant'), jobId = uniqueId('job')): Promise<LiveClient> {
  const client = open(service, tenantId, jobId, await mintToken({ tenantId }))
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

interface Refusal { status: number, retryAfter: string | undefined, body: { code?: string } }

/** The status, Retry-After and JSON body a refused handshake was answered with. */
async function refusal (service: ServiceProcess, tenantId = uniqueId('tenant'), jobId = uniqueId('job')): Promise<Refusal> {
  const client = open(service, tenantId, jobId, await mintToken({ tenantId }))
  return new Promise<Refusal>((resolve, reject) => {
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
}

/** Closes clients and waits until the gateway has seen every socket go, so the next test starts with free slots. */
async function closeAll (...some: LiveClient[]): Promise<void> {
  for (const c of some) c.close()
  await eventually('the gateway to see the sockets close', async () => await metric(gateway, 'gateway_live_connections') === 0, 10_000)
}

async function trackedRaw (port: string): Promise<RawConnection> {
  const raw = await rawConnection(port)
  rawSockets.push(raw.socket)
  return raw
}

t.test('configuration: defaults and bounds of the limits', async t => {
  const c = loadGatewayConfig({})
  t.equal(c.MAX_CONNECTIONS, 10_000)
  t.equal(c.MAX_CONNECTIONS_PER_TENANT, 1000)
  t.equal(c.MAX_INBOUND_MESSAGES_PER_SECOND, 20)
  t.equal(c.HANDSHAKE_TIMEOUT_MS, 10_000)
  for (const [name, value] of [
    ['MAX_CONNECTIONS', '0'], ['MAX_CONNECTIONS_PER_TENANT', '-1'], ['MAX_INBOUND_MESSAGES_PER_SECOND', 'fast'], ['HANDSHAKE_TIMEOUT_MS', '99']
  ] as const) {
    t.throws(() => loadGatewayConfig({ [name]: value }), new RegExp(name), `${name}=${value} is refused`)
  }
})

t.test('MAX_CONNECTIONS: the 4th handshake gets 503 with Retry-After and never reaches the training service; after one closes, a new one succeeds', async t => {
  const open3 = [await watch(gateway), await watch(gateway), await watch(gateway)]
  t.equal(await metric(training, 'training_link_sessions'), 3, 'the training service holds the three sessions')
  const refused = await refusal(gateway, uniqueId('tenant'))
  t.equal(refused.status, 503)
  t.equal(refused.body.code, 'GATEWAY_TOO_MANY_CONNECTIONS')
  t.equal(refused.retryAfter, '5')
  t.equal(await metric(gateway, 'gateway_connections_refused_total', 'code="GATEWAY_TOO_MANY_CONNECTIONS"'), 1, 'counted')
  t.equal(await metric(training, 'training_link_sessions'), 3, 'the training service never saw the refused handshake')
  for (const c of open3) t.equal(c.closed, null, 'the others stay open')

  const first = open3[0] as LiveClient
  first.close()
  await eventually('the slot to be released', async () => await metric(gateway, 'gateway_live_connections') === 2, 10_000)
  const again = await watch(gateway)
  t.equal(again.closed, null, 'a new handshake succeeds')
  await closeAll(...open3, again)
})

t.test('MAX_CONNECTIONS_PER_TENANT: the 3rd of tenant A gets 429 while tenant B connects', async t => {
  const a = uniqueId('tenant_a')
  const a1 = await watch(gateway, a)
  const a2 = await watch(gateway, a)
  const refused = await refusal(gateway, a)
  t.equal(refused.status, 429)
  t.equal(refused.body.code, 'GATEWAY_TENANT_CONNECTION_LIMIT')
  t.equal(refused.retryAfter, '30')
  t.equal(await metric(gateway, 'gateway_connections_refused_total', 'code="GATEWAY_TENANT_CONNECTION_LIMIT"'), 1, 'counted')
  const b = await watch(gateway, uniqueId('tenant_b'))
  t.equal(b.closed, null, 'another tenant still connects')
  await closeAll(a1, a2, b)
})

t.test('slots are released when sockets close: 20 rounds of two connections at a limit of two', async t => {
  const tenantId = uniqueId('tenant')
  for (let round = 0; round < 20; round++) {
    const pair = [await watch(gateway, tenantId), await watch(gateway, tenantId)]
    await closeAll(...pair)
  }
  const last = await watch(gateway, tenantId)
  t.equal(last.closed, null, 'the tenant still gets a connection')
  await closeAll(last)
})

t.test('a handshake refused after it took a slot (no upstream answers) gives the slot back', async t => {
  // MAX_CONNECTIONS=1: a slot kept by the first refusal would turn the next ones into TOO_MANY_CONNECTIONS.
  for (let i = 0; i < 3; i++) {
    const refused = await refusal(stuck)
    t.equal(refused.status, 503)
    t.equal(refused.body.code, 'GATEWAY_UPSTREAM_UNAVAILABLE', `attempt ${i + 1}`)
  }
})

t.test('a client that goes away mid-handshake gives its slot back (at the latest when the gateway gives up on the upstream)', async t => {
  const tenantId = uniqueId('tenant')
  const token = await mintToken({ tenantId })
  const failuresBefore = await metric(stuck, 'gateway_upstream_failures_total')
  const opensBefore = opensReceived
  const socket = tcpConnect(Number(stuck.port), '127.0.0.1')
  rawSockets.push(socket)
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write(`GET ${new URL(liveUrl(stuck.url, tenantId, uniqueId('job'))).pathname} HTTP/1.1\r\nHost: x\r\n` +
    `Authorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  await eventually('the gateway to open a session on the replica', () => opensReceived > opensBefore, 10_000)
  socket.destroy()
  await eventually('the session opening to end', async () => await metric(stuck, 'gateway_upstream_failures_total') > failuresBefore, 10_000)
  const next = await refusal(stuck)
  t.equal(next.body.code, 'GATEWAY_UPSTREAM_UNAVAILABLE', 'the next client got the slot (and then found no upstream)')
})

t.test('a client over MAX_INBOUND_MESSAGES_PER_SECOND is closed with 1008 and counted', async t => {
  const flooder = await watch(gateway)
  const other = await watch(gateway)
  for (let i = 0; i < 200; i++) flooder.socket.send('{"type":"ping"}')
  const closed = await within(flooder.closedPromise, 10_000, 'the flooder to be closed')
  t.equal(closed.code, 1008)
  t.equal(closed.reason, 'message rate exceeded')
  const pongs = flooder.messages.filter(m => m.type === 'pong').length
  t.ok(pongs <= 25, `at most about the burst was answered (${pongs} pongs)`)
  await eventually('the cut to be counted', async () => await metric(gateway, 'gateway_live_disconnects_total', 'reason="message_rate"') === 1, 10_000)
  t.equal(other.closed, null, 'another client is untouched')
  other.socket.send('{"type":"ping"}')
  await other.waitFor(m => m.some(x => x.type === 'pong'), 10_000, 'pong')
  await closeAll(flooder, other)
})

t.test('a client sending 5 pings a second for 3 s stays open', async t => {
  const client = await watch(gateway)
  for (let i = 0; i < 15; i++) {
    client.socket.send('{"type":"ping"}')
    await sleep(200)
  }
  await client.waitFor(m => m.filter(x => x.type === 'pong').length === 15, 10_000, '15 pongs')
  t.equal(client.closed, null)
  await closeAll(client)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that sends a partial request line and stops is dropped', async t => {
  const raw = await trackedRaw(gateway.port)
  raw.socket.write('GET / HTTP/1.1\r\n')
  const after = await within(raw.closedAfter, 5000, 'the gateway to close the socket')
  t.ok(after >= 800, `not before the timeout (${after} ms)`)
  t.ok(after < 4000, `within a bounded time (${after} ms)`)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that connects and sends nothing is dropped', async t => {
  const raw = await trackedRaw(gateway.port)
  const after = await within(raw.closedAfter, 5000, 'the gateway to close the socket')
  t.ok(after < 4000, `closed after ${after} ms`)
})

t.test('HANDSHAKE_TIMEOUT_MS: a client that trickles its headers (slowloris) is dropped', async t => {
  const raw = await trackedRaw(gateway.port)
  raw.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
  const state = { closed: false }
  void raw.closedAfter.then(() => { state.closed = true })
  const trickle = (async () => {
    for (let i = 0; i < 50 && !state.closed; i++) {
      await sleep(200)
      if (!state.closed && raw.socket.writable) raw.socket.write(`X-Slow-${i}: y\r\n`)
    }
  })()
  const after = await within(raw.closedAfter, 6000, 'the gateway to close the trickling socket')
  await trickle
  t.ok(after < 5000, `closed after ${after} ms although it kept sending`)
})

t.test('an upgraded WebSocket idle for longer than HANDSHAKE_TIMEOUT_MS stays open', async t => {
  const client = await watch(gateway)
  await sleep(3500)
  t.equal(client.closed, null)
  client.socket.send('{"type":"ping"}')
  await client.waitFor(m => m.some(x => x.type === 'pong'), 10_000, 'pong')
  await closeAll(client)
})
