/**
 * The link between gateways and training replicas, through real processes
 * and sockets: failover past dead replicas, 503 when none accepts, messages
 * unchanged, upstream loss (1011) and restart (1012), the link's own
 * credential and version, the replica's own token check on each session,
 * each event crossing a link once however many clients watch it, and a
 * link cut by the network and reopened with nothing lost.
 */
import t from 'tap'
import { once } from 'node:events'
import { request } from 'node:http'
import WebSocket from 'ws'
import { createPublisher } from '@training-live/events/publisher'
import {
  FrameType, LINK_PATH, LINK_VERSION, LINK_VERSION_HEADER, DEVELOPMENT_LINK_SECRET, decodeFrame, encodeOpen, type Frame
} from '@training-live/service-kit'
import {
  LiveClient, ResumingClient, deleteKeys, deleteTopology, eventually, freePort, liveUrl, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess, metricValue as metric
} from '@training-live/test-kit'
import { TcpProxy, assertExactlyOnce, fullHistory, jobOf, publishPaced } from './helpers/faults.ts'

const topology = testTopology('gw_proxy')
const processes: ServiceProcess[] = []
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await Promise.all(processes.map(p => p.stop()))
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

t.test('failover: a dead replica listed first is skipped on every connection', async t => {
  const gateway = await start('gateway', { env: { TRAINING_URLS: `${deadUrl},${replica.url}` } })
  for (let i = 0; i < 4; i++) {
    const client = await connectWithSnapshot(gateway)
    t.equal(client.messages[0]?.type, 'connected', `connection ${i + 1} got its snapshot`)
    client.socket.close(1000)
    await client.closedPromise
  }
  t.equal(await metric(gateway, 'gateway_links_open'), 1, 'one link open: to the live replica')
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
  t.equal(await metric(gateway, 'gateway_links_open'), 0, 'no link open')

  const ready = await fetch(`${gateway.url}/ready`)
  t.equal(ready.status, 503, '/ready is 503 with no replica')
  t.match(await ready.json(), { status: 'not_ready', checks: { upstream: false } })
  t.equal((await fetch(`${gateway.url}/health`)).status, 200, '/health stays 200: the process is alive')
})

t.test('messages pass unchanged: ping through the gateway gets exactly {"type":"pong"}', async t => {
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

/** A link upgrade against `training` with these headers; resolves with the HTTP status (101 when upgraded). */
function linkHandshake (training: ServiceProcess, headers: Record<string, string>): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${training.url}${LINK_PATH}`, {
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers }
    })
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, body: '' }) })
    req.on('response', res => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('a link needs the gateways\' secret and the link version: anything else is refused', async t => {
  const version = { [LINK_VERSION_HEADER]: String(LINK_VERSION) }
  const none = await linkHandshake(replica, version)
  t.equal(none.status, 401, 'no credential: 401')
  t.equal(JSON.parse(none.body).code, 'TRAINING_LINK_FORBIDDEN')
  t.equal((await linkHandshake(replica, { ...version, authorization: 'Bearer not-the-link-secret-at-all' })).status, 401, 'a forged credential: 401')
  t.equal((await linkHandshake(replica, { ...version, authorization: `Bearer ${await mintToken({ tenantId: 'tenant_a' })}` })).status, 401,
    'a client\'s JWT is not a link credential: 401')
  const badVersion = await linkHandshake(replica, { [LINK_VERSION_HEADER]: '999', authorization: `Bearer ${DEVELOPMENT_LINK_SECRET}` })
  t.equal(badVersion.status, 400, 'another link version: 400')
  t.equal(JSON.parse(badVersion.body).code, 'TRAINING_LINK_VERSION')
  t.equal((await linkHandshake(replica, { ...version, authorization: `Bearer ${DEVELOPMENT_LINK_SECRET}` })).status, 101, 'the secret and the version: upgraded')
})

t.test('the replica verifies each session\'s token itself, whatever the link says', async t => {
  const link = new WebSocket(`${replica.wsUrl}${LINK_PATH}`, { headers: { authorization: `Bearer ${DEVELOPMENT_LINK_SECRET}`, [LINK_VERSION_HEADER]: String(LINK_VERSION) } })
  t.teardown(() => link.terminate())
  const frames: Frame[] = []
  link.on('message', (data: Buffer) => frames.push(decodeFrame(Buffer.from(data))))
  await once(link, 'open')
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const cases = [
    { token: await mintToken({ tenantId: uniqueId('other') }), status: 403, code: 'TRAINING_TENANT_FORBIDDEN' },
    { token: await mintToken({ tenantId, expiresIn: -10 }), status: 401, code: 'TRAINING_TOKEN_EXPIRED' },
    { token: await mintToken({ tenantId, secret: 'another-secret-0123456789abcdef' }), status: 401, code: 'TRAINING_TOKEN_INVALID' },
    { token: '', status: 401, code: 'TRAINING_TOKEN_MISSING' }
  ]
  for (const [i, c] of cases.entries()) link.send(encodeOpen(i + 1, { kind: 'job', tenant_id: tenantId, job_id: jobId, token: c.token }))
  link.send(encodeOpen(100, { kind: 'job', tenant_id: tenantId, job_id: jobId, token: await mintToken({ tenantId }) }))
  await eventually('every session answered', () => frames.filter(f => f.type === FrameType.Refuse).length === cases.length &&
    frames.some(f => f.type === FrameType.Live && f.session === 100))
  for (const [i, c] of cases.entries()) {
    const refusal = frames.find(f => f.type === FrameType.Refuse && f.session === i + 1)
    t.equal(refusal?.type === FrameType.Refuse && refusal.status, c.status, `${c.code}: ${c.status}`)
    t.equal(refusal?.type === FrameType.Refuse && JSON.parse(refusal.body.toString()).code, c.code)
  }
  const valid = frames.filter(f => 'session' in f && f.session === 100).map(f => f.type)
  t.same(valid, [FrameType.Accept, FrameType.Send, FrameType.Live], 'a valid token: accepted, its snapshot, then live')
})

t.test('each event crosses a link once, however many clients of that gateway watch the job', async t => {
  const topo = testTopology('gw_link_fanout')
  const training = await start('training', { env: topo.env })
  const gateway = await start('gateway', { env: { TRAINING_URLS: training.url } })
  const publisher = await createPublisher({ url: topo.env.AMQP_URL, exchange: topo.exchange })
  t.teardown(async () => { await publisher.close(); await deleteTopology(topo); await deleteKeys(topo.env.REDIS_KEY_PREFIX as string) })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const token = await mintToken({ tenantId })
  const watchers = Array.from({ length: 20 }, () => new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token })))
  clients.push(...watchers)
  await Promise.all(watchers.map(w => w.waitFor(m => m.length >= 1, 10_000, 'snapshot')))
  const publishedBefore = await metric(training, 'training_link_publishes_total')
  const events = jobOf(tenantId, jobId, 10)
  await publishPaced(publisher, events, 0).done
  const closes = await Promise.all(watchers.map(w => w.closedPromise))
  t.ok(closes.every(c => c.code === 1000), 'every watcher got the job to its end')
  t.ok(watchers.every(w => w.events.length === events.length), `every watcher got all ${events.length} events`)
  t.equal(await metric(training, 'training_link_publishes_total') - publishedBefore, events.length,
    `the replica wrote each of the ${events.length} events to the link once, not once per watcher`)
  t.equal(await metric(training, 'training_links'), 1, 'one link from the gateway')
})

t.test('a link cut by the network: its clients get 1011, the link reopens, they resume with nothing lost', async t => {
  const topo = testTopology('gw_link_cut')
  const training = await start('training', { env: topo.env })
  const cable = await new TcpProxy(Number(training.port)).listen()
  const gateway = await start('gateway', { env: { TRAINING_URLS: `http://127.0.0.1:${cable.port}`, LINK_HEARTBEAT_MS: '500' } })
  const publisher = await createPublisher({ url: topo.env.AMQP_URL, exchange: topo.exchange })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const watchers = Array.from({ length: 4 }, () => new ResumingClient({ urls: [gateway.wsUrl], tenantId, jobId }))
  t.teardown(async () => {
    for (const w of watchers) w.stop()
    await publisher.close()
    await cable.close()
    await deleteTopology(topo)
    await deleteKeys(topo.env.REDIS_KEY_PREFIX as string)
  })
  await eventually('every watcher has its snapshot', () => watchers.every(w => w.snapshots.length > 0))
  const events = jobOf(tenantId, jobId, 150)
  const publishing = publishPaced(publisher, events, 10)
  await eventually('the watchers are under way', () => watchers.every(w => w.ids.length >= 20))
  cable.cut()
  await eventually('the gateway saw its link go', async () => await metric(gateway, 'gateway_links_open') === 0)
  cable.restore()
  await eventually('the link reopened', async () => await metric(gateway, 'gateway_links_open') === 1)
  await publishing.done
  await Promise.all(watchers.map(w => w.done))
  const history = await fullHistory(gateway.wsUrl, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds each event once')
  for (const [i, w] of watchers.entries()) {
    t.ok(w.closeCodes.includes(1011), `watcher ${i}: closed with 1011 when the link was cut`)
    assertExactlyOnce(t, w, history, `watcher ${i}`)
  }
})
