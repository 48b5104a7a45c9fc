/**
 * The live WebSocket of a real training process, connected to directly:
 * client messages, frame limits, heartbeat, slow clients, token expiry,
 * resume against a trimmed history, handshake refusals.
 */
import t from 'tap'
import type { Socket } from 'node:net'
import { Redis } from 'ioredis'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import type { TrainingEvent } from '@training-live/events'
import {
  LiveClient, REDIS_URL, deleteKeys, deleteTopology, liveUrl, mintToken, startService, testTopology, uniqueId,
  type Received, type ServiceProcess
  , eventually, metricValue as metric
  , within
} from '@training-live/test-kit'

/**
 * 1 MiB (the default): the reading client of the slow-client test must never lag that far behind,
 * even when this test process shares a loaded machine; 64 KiB (three 20 KiB events) was too little.
 */
const MAX_SEND_BUFFER_BYTES = 1024 * 1024

const mainTopology = testTopology('live')
const heartbeatTopology = testTopology('livehb')
const [main, heartbeat] = await Promise.all([
  startService('training', {
    env: { ...mainTopology.env, MAX_INBOUND_FRAME_BYTES: '1024', MAX_SEND_BUFFER_BYTES: String(MAX_SEND_BUFFER_BYTES), HISTORY_MAX_LENGTH: '1' }
  }),
  startService('training', { env: { ...heartbeatTopology.env, HEARTBEAT_INTERVAL_MS: '200' } })
]) as [ServiceProcess, ServiceProcess]
const publisher = await createPublisher({ url: mainTopology.env.AMQP_URL, exchange: mainTopology.exchange })
const redis = new Redis(REDIS_URL)
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await publisher.close()
  redis.disconnect()
  await Promise.all([main.stop(), heartbeat.stop()])
  for (const topology of [mainTopology, heartbeatTopology]) {
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  }
})

function connect (service: ServiceProcess, tenantId: string, jobId: string, query: Record<string, string>, options: { autoPong?: boolean } = {}): LiveClient {
  const client = new LiveClient(liveUrl(service.wsUrl, tenantId, jobId, query), options)
  clients.push(client)
  return client
}

/** Opens a live socket with a fresh token and waits for the snapshot. */
async function watch (service: ServiceProcess, tenantId: string, jobId: string, query: Record<string, string> = {}, options: { autoPong?: boolean } = {}): Promise<LiveClient> {
  const token = await mintToken({ tenantId })
  const client = connect(service, tenantId, jobId, { token, ...query }, options)
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  return client
}

/** Sends a ping and waits for the pong: every frame the server sent before it has arrived. */
async function roundTrip (client: LiveClient): Promise<void> {
  const pongs = client.messages.filter(m => m.type === 'pong').length
  client.socket.send(JSON.stringify({ type: 'ping' }))
  await client.waitFor(m => m.filter(x => x.type === 'pong').length > pongs, 10_000, 'pong')
}

/** Progress events of one job, with `extra` extra characters of data each. */
function progressEvents (tenantId: string, jobId: string, count: number, extra = 0, from = 0): TrainingEvent[] {
  const base = Date.now()
  return Array.from({ length: count }, (_, i): TrainingEvent => ({
    event_id: `${jobId}-progress-${from + i}`,
    type: 'training.progress',
    tenant_id: tenantId,
    job_id: jobId,
    timestamp: new Date(base + i).toISOString(),
    data: { step: 'Data Analysis', progress: from + i, ...(extra > 0 ? { blob: 'x'.repeat(extra) } : {}) }
  }))
}

/** Publishes in order (one confirm channel keeps publish order), 50 awaited at a time. */
async function publish (p: Publisher, events: TrainingEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    await Promise.all(events.slice(i, i + 50).map(e => p.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })))
  }
}

function rejection (client: LiveClient): Promise<{ statusCode: number, body: string }> {
  return client.opened.then(
    () => { throw new Error('the handshake was accepted') },
    (err: { statusCode?: number, body?: string }) => ({ statusCode: err.statusCode ?? 0, body: err.body ?? '' })
  )
}

t.test('ping gets exactly {"type":"pong"}', async t => {
  const client = await watch(main, uniqueId('tenant'), uniqueId('job'))
  client.socket.send('{"type":"ping"}')
  await client.waitFor(m => m.length >= 2, 10_000, 'pong')
  t.equal(client.raw[1], '{"type":"pong"}')
  t.equal(client.closed, null)
})

t.test('any other client message gets an error and the socket stays open', async t => {
  const client = await watch(main, uniqueId('tenant'), uniqueId('job'))
  const bad: Array<string | Buffer> = ['{"type":"subscribe"}', 'hello', '[]', '{"type":"PING"}', Buffer.from([1, 2, 3])]
  for (const [i, frame] of bad.entries()) {
    client.socket.send(frame)
    await client.waitFor(m => m.length >= i + 2, 10_000, `error ${i + 1}`)
    t.match(client.messages[i + 1], { type: 'error', code: 'TRAINING_BAD_MESSAGE', message: String }, `error for ${String(frame)}`)
  }
  await roundTrip(client)
  t.equal(client.closed, null, 'still open')
  t.same(client.messages.map(m => m.type), ['connected', 'error', 'error', 'error', 'error', 'error', 'pong'])
})

t.test('a frame larger than MAX_INBOUND_FRAME_BYTES closes with 1009', async t => {
  const client = await watch(main, uniqueId('tenant'), uniqueId('job'))
  client.socket.send(JSON.stringify({ type: 'ping', padding: 'x'.repeat(4096) }))
  const closed = await within(client.closedPromise, 10_000, 'close')
  t.equal(closed.code, 1009)
})

t.test('heartbeat: a client that never answers pings is dropped, others stay', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const silent = await watch(heartbeat, tenantId, jobId, {}, { autoPong: false })
  const normal = await watch(heartbeat, tenantId, jobId)
  const closed = await within(silent.closedPromise, 10_000, 'the silent client to be dropped')
  t.equal(closed.code, 1006, 'terminated without a close frame')
  t.equal(normal.closed, null, 'the answering client is still connected')
  await roundTrip(normal)
  t.equal(normal.closed, null)
  await eventually('heartbeat metric', async () => await metric(heartbeat, 'training_live_disconnects_total', 'reason="heartbeat"') === 1)
  t.equal(await metric(heartbeat, 'training_live_disconnects_total', 'reason="heartbeat"'), 1, 'only the silent client was dropped')
})

t.test('a client that does not read is cut; another client of the job gets everything', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const normal = await watch(main, tenantId, jobId)
  const slow = await watch(main, tenantId, jobId)
  const slowCut = () => metric(main, 'training_live_disconnects_total', 'reason="slow_client"')
  t.equal(await slowCut(), 0)
  ;(slow.socket as unknown as { _socket: Socket })._socket.pause()

  // The kernel buffers a few MB before the server sees any backlog; publish more until it does.
  let published = 0
  for (const count of [300, 100, 100, 100, 100, 100, 100, 100, 100, 100]) {
    await publish(publisher, progressEvents(tenantId, jobId, count, 20 * 1024, published))
    published += count
    const expected = published
    await normal.waitFor(m => m.filter(x => typeof x.id === 'string').length >= expected, 60_000, `${expected} events`)
    if (await slowCut() >= 1) break
  }
  await eventually('the slow client to be cut', async () => await slowCut() >= 1)
  t.equal(await slowCut(), 1, 'exactly one client cut as slow')
  t.equal(normal.closed, null, 'the reading client is still connected')
  t.ok(published >= 300)
  t.comment(`the server cut the reader after ${published} events of 20 KiB`)
  const ids = normal.events.map(m => m.id as string)
  t.equal(ids.length, published, `the reading client received all ${published} events`)
  t.equal(new Set(ids).size, ids.length, 'no duplicate')
  t.same(normal.events.map(m => (m.data as { progress: number }).progress), Array.from({ length: published }, (_, i) => i), 'in order')
  t.equal((normal.events.at(-1)?.data as { blob: string }).blob.length, 20 * 1024, 'extra data forwarded')
  await roundTrip(normal)
})

t.test('an open socket is closed with 4001 when its token expires', async t => {
  const tenantId = uniqueId('tenant')
  const token = await mintToken({ tenantId, expiresIn: 2 })
  const client = connect(main, tenantId, uniqueId('job'), { token })
  await client.opened
  await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
  const closed = await within(client.closedPromise, 15_000, 'the expiry close')
  t.equal(closed.code, 4001)
  t.equal(closed.reason, 'token expired')
  t.ok(await metric(main, 'training_live_disconnects_total', 'reason="token_expired"') >= 1)
})

t.test('resume with last_id against a trimmed history (HISTORY_MAX_LENGTH=1)', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const watcher = await watch(main, tenantId, jobId)
  await publish(publisher, progressEvents(tenantId, jobId, 250))
  await watcher.waitFor(m => m.filter(x => typeof x.id === 'string').length >= 250, 30_000, '250 events')
  const firstId = watcher.events[0]?.id as string
  const newestId = watcher.events.at(-1)?.id as string

  const historyKey = `${mainTopology.env.REDIS_KEY_PREFIX as string}{${tenantId}/${jobId}}:history`
  const length = await redis.xlen(historyKey)
  t.ok(length > 0 && length < 250, `the history was trimmed (${length} of 250 entries left)`)

  async function resume (lastId: string): Promise<Received[]> {
    const client = await watch(main, tenantId, jobId, { last_id: lastId })
    await roundTrip(client)
    return client.messages
  }

  const fromFirst = await resume(firstId)
  t.match(fromFirst[0], { type: 'connected', data: { recovered: false, status: 'running', progress: 20, last_id: newestId } })
  t.same(fromFirst.map(m => m.type), ['connected', 'pong'], 'no history replayed when it does not reach back')

  const fromStart = await resume('0-0')
  t.match(fromStart[0], { data: { recovered: false } })
  t.same(fromStart.map(m => m.type), ['connected', 'pong'])

  const fromNewest = await resume(newestId)
  t.match(fromNewest[0], { type: 'connected', data: { recovered: true, last_id: newestId } })
  t.same(fromNewest.map(m => m.type), ['connected', 'pong'], 'nothing to replay after the newest id')

  const fromFuture = await resume('99999999999999-0')
  t.match(fromFuture[0], { type: 'connected', data: { recovered: false, last_id: newestId } })
  t.same(fromFuture.map(m => m.type), ['connected', 'pong'])
})

t.test('a malformed last_id is refused with 400 before any upgrade', async t => {
  const tenantId = uniqueId('tenant')
  const client = connect(main, tenantId, uniqueId('job'), { token: await mintToken({ tenantId }), last_id: 'abc' })
  const refused = await rejection(client)
  t.equal(refused.statusCode, 400)
  t.match(JSON.parse(refused.body), { statusCode: 400 })
  t.equal(client.messages.length, 0)
})

t.test('a job that never had events: pending snapshot', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const client = await watch(main, tenantId, jobId)
  t.match(client.messages[0], {
    type: 'connected',
    job_id: jobId,
    tenant_id: tenantId,
    timestamp: String,
    data: { status: 'pending', progress: 0, products_completed: 0, total_products: null, current_step: null, last_id: null }
  })
  t.notOk('recovered' in (client.messages[0]?.data ?? {}), 'recovered only when last_id was sent')
})

t.test('the training service checks the token itself', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')

  const missing = await rejection(connect(main, tenantId, jobId, {}))
  t.equal(missing.statusCode, 401)
  t.match(JSON.parse(missing.body), { code: 'TRAINING_TOKEN_MISSING' })

  const otherTenant = await rejection(connect(main, tenantId, jobId, { token: await mintToken({ tenantId: uniqueId('other') }) }))
  t.equal(otherTenant.statusCode, 403)
  t.match(JSON.parse(otherTenant.body), { code: 'TRAINING_TENANT_FORBIDDEN' })
})
