import { randomUUID } from 'node:crypto'
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'
import t, { type Test } from 'tap'
import { createPublisher, InvalidEventError, type Publisher, type PublisherOptions } from '../src/publisher.ts'
import type { TrainingEventMap } from '../src/schemas.ts'

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const RUN = randomUUID().slice(0, 8)
const TENANT = `tenant_pub_${RUN}`
const JOB = `training_pub_${RUN}`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** A unique exchange name, deleted when the test ends. */
function exchangeName (t: Test, admin: Channel, label: string): string {
  const name = `test.events.${RUN}.${label}.${randomUUID().slice(0, 8)}`
  t.teardown(async () => { await admin.deleteExchange(name).catch(() => {}) })
  return name
}

interface Inbox {
  next (timeoutMs?: number): Promise<ConsumeMessage>
  /** Resolves with the number of messages that arrived within `ms`. */
  quiet (ms: number): Promise<number>
}

/** An exclusive auto-delete queue bound with `training.#`, read into a buffer. */
async function bindInbox (channel: Channel, exchange: string, bindingKey = 'training.#'): Promise<Inbox> {
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true })
  await channel.bindQueue(queue, exchange, bindingKey)
  const buffered: ConsumeMessage[] = []
  const waiting: Array<(m: ConsumeMessage) => void> = []
  await channel.consume(queue, msg => {
    if (msg === null) return
    const w = waiting.shift()
    if (w) w(msg)
    else buffered.push(msg)
  }, { noAck: true })
  return {
    next (timeoutMs = 5000) {
      const ready = buffered.shift()
      if (ready) return Promise.resolve(ready)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message on ${exchange} within ${timeoutMs} ms`)), timeoutMs)
        waiting.push(m => { clearTimeout(timer); resolve(m) })
      })
    },
    async quiet (ms) {
      await new Promise(resolve => setTimeout(resolve, ms))
      return buffered.length
    }
  }
}

function bodyOf (msg: ConsumeMessage): Record<string, unknown> {
  return JSON.parse(msg.content.toString('utf8')) as Record<string, unknown>
}

let connection: ChannelModel
let admin: Channel

t.before(async () => {
  connection = await amqplib.connect(AMQP_URL)
  admin = await connection.createChannel()
})
t.teardown(async () => {
  await connection.close()
})

async function publisherFor (t: Test, options: PublisherOptions): Promise<Publisher> {
  const publisher = await createPublisher({ url: AMQP_URL, ...options })
  t.teardown(() => publisher.close())
  return publisher
}

/**
 * publisher.ts loaded once more with `amqplib.connect` routed through `connectImpl`,
 * to watch (or stand in for) the connection a publisher opens for itself.
 */
let connectImpl: (url: string) => Promise<unknown> = realConnect
let lastOpened: ChannelModel | undefined
let lastUrl: string | undefined
async function realConnect (url: string): Promise<ChannelModel> {
  lastUrl = url
  lastOpened = await amqplib.connect(url === 'amqp://guest:guest@127.0.0.1:5672' ? AMQP_URL : url)
  return lastOpened
}
let spied: typeof import('../src/publisher.ts')
t.before(async () => {
  spied = await t.mockImport<typeof import('../src/publisher.ts')>('../src/publisher.ts', {
    amqplib: { ...amqplib, connect: (url: string) => connectImpl(url) }
  })
})
function opened (): ChannelModel {
  if (lastOpened === undefined) throw new Error('no connection was opened')
  return lastOpened
}

t.test('publishes each event type, persistent JSON with its id and type', async t => {
  const exchange = exchangeName(t, admin, 'types')
  const publisher = await publisherFor(t, { exchange })
  const inbox = await bindInbox(admin, exchange)

  const inputs: { [K in keyof TrainingEventMap]: Omit<TrainingEventMap[K], 'event_id' | 'timestamp' | 'type'> } = {
    'training.started': { job_id: JOB, tenant_id: TENANT, data: { total_products: 3 } },
    'training.progress': { job_id: JOB, tenant_id: TENANT, data: { step: 'Data Analysis', progress: 50 } },
    'training.product.completed': { job_id: JOB, tenant_id: TENANT, data: { product_name: 'widgets', total_products: 3, current_step: 'Model Training' } },
    'training.completed': { job_id: JOB, tenant_id: TENANT, data: { successful_trainings: 3, failed_trainings: 0, total_duration: 12.5 } },
    'training.failed': { job_id: JOB, tenant_id: TENANT, data: { error: 'out of memory' } }
  }
  const types = Object.keys(inputs) as Array<keyof TrainingEventMap>
  const eventIds = new Set<string>()
  for (const type of types) {
    const before = Date.now()
    const sent = await publisher.publish(type, inputs[type] as never)
    const after = Date.now()
    t.match(sent.event_id, UUID, `${type}: event_id filled in as a UUID`)
    t.match(sent.timestamp, ISO, `${type}: timestamp filled in`)
    const ts = Date.parse(sent.timestamp)
    t.ok(ts >= before && ts <= after, `${type}: timestamp is the publishing time`)
    t.equal(sent.type, type)
    eventIds.add(sent.event_id)

    const msg = await inbox.next()
    t.equal(msg.fields.routingKey, type, `${type}: routing key equals type`)
    t.equal(msg.fields.exchange, exchange)
    t.equal(msg.properties.deliveryMode, 2, `${type}: persistent`)
    t.equal(msg.properties.contentType, 'application/json')
    t.equal(msg.properties.messageId, sent.event_id, `${type}: message_id is the event id`)
    t.equal(msg.properties.type, type)
    t.ok(Math.abs(msg.properties.timestamp - Math.floor(before / 1000)) <= 1, 'AMQP timestamp in seconds')
    t.strictSame(bodyOf(msg), { ...inputs[type], event_id: sent.event_id, type, timestamp: sent.timestamp }, `${type}: body`)
    t.strictSame(bodyOf(msg), sent, 'the returned event is what was sent')
  }
  t.equal(eventIds.size, types.length, 'a fresh id per event')
})

t.test('keeps a given event_id and timestamp, and extra fields', async t => {
  const exchange = exchangeName(t, admin, 'given')
  const publisher = await publisherFor(t, { exchange })
  const inbox = await bindInbox(admin, exchange)
  const eventId = `evt-${RUN}-given`
  const sent = await publisher.publish('training.started', {
    event_id: eventId,
    timestamp: '2025-10-08T12:34:56.789Z',
    job_id: JOB,
    tenant_id: TENANT,
    data: { total_products: 2, model: 'xgb' } as TrainingEventMap['training.started']['data'],
    worker: 'gpu-3'
  } as Parameters<Publisher['publish']>[1])
  t.equal(sent.event_id, eventId)
  const msg = await inbox.next()
  t.equal(msg.properties.messageId, eventId)
  t.strictSame(bodyOf(msg), {
    event_id: eventId,
    timestamp: '2025-10-08T12:34:56.789Z',
    job_id: JOB,
    tenant_id: TENANT,
    data: { total_products: 2, model: 'xgb' },
    worker: 'gpu-3',
    type: 'training.started'
  })
})

t.test('an invalid event rejects with InvalidEventError and sends nothing', async t => {
  const exchange = exchangeName(t, admin, 'invalid')
  const publisher = await publisherFor(t, { exchange })
  const inbox = await bindInbox(admin, exchange)

  const missing = publisher.publish('training.failed', { job_id: JOB, tenant_id: TENANT, data: {} as { error: string } })
  await t.rejects(missing, { name: 'InvalidEventError', code: 'EVENTS_INVALID_EVENT', message: /\/data must have required properties error/ })
  const err = await missing.catch((e: unknown) => e)
  t.ok(err instanceof InvalidEventError, 'an InvalidEventError')
  t.ok(err instanceof Error, 'an Error')

  await t.rejects(publisher.publish('training.started', { job_id: 'a/b', tenant_id: TENANT, data: { total_products: 1 } }),
    { code: 'EVENTS_INVALID_EVENT', message: /\/job_id must match pattern/ })
  await t.rejects(publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, timestamp: 'yesterday', data: { total_products: 1 } }),
    { code: 'EVENTS_INVALID_EVENT', message: /\/timestamp/ })
  await t.rejects(publisher.publish('training.nope' as 'training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } }),
    { code: 'EVENTS_INVALID_EVENT', message: /unknown event type "training.nope"/ })

  // Messages on one channel arrive in order: if this is the first, nothing was sent before it.
  const sentinel = await publisher.publish('training.completed', { job_id: JOB, tenant_id: TENANT, data: {} })
  const first = await inbox.next()
  t.equal(first.properties.messageId, sentinel.event_id, 'the first message to arrive is the valid one')
  t.equal(await inbox.quiet(100), 0, 'nothing else arrived')
})

t.test('publishRaw sends the bytes as given', async t => {
  const exchange = exchangeName(t, admin, 'raw')
  const publisher = await publisherFor(t, { exchange })
  const inbox = await bindInbox(admin, exchange, '#')

  await publisher.publishRaw('training.started', '{not json')
  let msg = await inbox.next()
  t.equal(msg.content.toString('utf8'), '{not json')
  t.equal(msg.fields.routingKey, 'training.started')
  t.equal(msg.properties.deliveryMode, 2, 'persistent by default')
  t.equal(msg.properties.contentType, 'application/json', 'content type by default')

  const bytes = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x0a, 0xc3])
  await publisher.publishRaw('anything.goes', bytes, { contentType: 'application/octet-stream', messageId: 'raw-1', headers: { 'x-test': RUN } })
  msg = await inbox.next()
  t.ok(msg.content.equals(bytes), 'the exact bytes')
  t.equal(msg.fields.routingKey, 'anything.goes', 'any routing key')
  t.equal(msg.properties.contentType, 'application/octet-stream', 'options override the defaults')
  t.equal(msg.properties.messageId, 'raw-1')
  t.equal(msg.properties.headers?.['x-test'], RUN)

  const valid = JSON.stringify({ event_id: 'raw-valid', type: 'training.failed', job_id: JOB, tenant_id: TENANT, timestamp: '2025-10-08T12:34:56.789Z', data: { error: 'x' } })
  await publisher.publishRaw('training.progress', valid, { persistent: false })
  msg = await inbox.next()
  t.equal(msg.content.toString('utf8'), valid, 'no validation and no routing key check')
  t.not(msg.properties.deliveryMode, 2, 'persistent can be turned off')
})

t.test('a broker nack rejects the publish', async t => {
  const exchange = exchangeName(t, admin, 'nack')
  const publisher = await publisherFor(t, { exchange })
  const { queue } = await admin.assertQueue('', { exclusive: true, autoDelete: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } })
  await admin.bindQueue(queue, exchange, '#')
  await t.rejects(publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } }), { message: 'message nacked' })
  await t.rejects(publisher.publishRaw('training.started', 'x'), { message: 'message nacked' })
})

t.test('a shared connection is left open on close', async t => {
  const shared = await amqplib.connect(AMQP_URL)
  t.teardown(() => shared.close().catch(() => {}))
  let closed = false
  shared.on('close', () => { closed = true })
  const exchange = exchangeName(t, admin, 'shared')
  const publisher = await createPublisher({ connection: shared, exchange, url: 'amqp://ignored.invalid:1' })
  const inbox = await bindInbox(admin, exchange)
  await publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } })
  t.equal((await inbox.next()).fields.routingKey, 'training.started', 'published over the shared connection')
  await publisher.close()
  await publisher.close()
  t.equal(closed, false, 'the shared connection is still open')
  const channel = await shared.createChannel()
  await channel.checkExchange(exchange)
  await channel.close()
  t.pass('the shared connection still works')
})

t.test('the exchange is declared as a durable topic exchange', async t => {
  const exchange = exchangeName(t, admin, 'declare')
  await publisherFor(t, { exchange })
  const probe = await connection.createChannel()
  // Re-declaring with the same arguments succeeds; with other arguments the broker refuses.
  await probe.assertExchange(exchange, 'topic', { durable: true })
  t.pass('topic, durable')
  const refused = await connection.createChannel()
  refused.on('error', () => {})
  await t.rejects(refused.assertExchange(exchange, 'topic', { durable: false }), /PRECONDITION_FAILED/)
  await probe.close()
})

t.test('a conflicting exchange makes createPublisher reject', async t => {
  const exchange = exchangeName(t, admin, 'conflict')
  await admin.assertExchange(exchange, 'direct', { durable: false, autoDelete: false })

  t.test('with its own connection, which it closes', async t => {
    lastOpened = undefined
    await t.rejects(spied.createPublisher({ url: AMQP_URL, exchange }), /PRECONDITION_FAILED/)
    await t.rejects(opened().createChannel(), /closed/i, 'the publisher closed its connection')
  })

  t.test('with a shared connection, which it leaves open', async t => {
    const shared = await amqplib.connect(AMQP_URL)
    t.teardown(() => shared.close().catch(() => {}))
    await t.rejects(createPublisher({ connection: shared, exchange }), /PRECONDITION_FAILED/)
    const channel = await shared.createChannel()
    await channel.close()
    t.pass('the shared connection still works')
  })
})

t.test('close() closes the connection it opened, and may be called twice', async t => {
  const exchange = exchangeName(t, admin, 'close')
  lastOpened = undefined
  const publisher = await spied.createPublisher({ exchange })
  t.equal(lastUrl, 'amqp://guest:guest@127.0.0.1:5672', 'the default URL is the local broker')
  let closed = false
  opened().on('close', () => { closed = true })
  await publisher.close()
  t.equal(closed, true, 'its connection is closed')
  await publisher.close()
  t.pass('a second close() resolves')
  await t.rejects(publisher.publishRaw('training.started', 'x'), 'publishing after close fails')
})

t.test('a channel error later on rejects publishes instead of crashing the process', async t => {
  const exchange = exchangeName(t, admin, 'deleted')
  const publisher = await publisherFor(t, { exchange })
  await admin.deleteExchange(exchange)
  // Publishing to a missing exchange makes the broker close the channel (404).
  await t.rejects(publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } }), /closed/i)
  await t.rejects(publisher.publishRaw('training.started', 'x'), /closed/i, 'and every later publish')
  await publisher.close()
  t.pass('the process is still running')
})

t.test('a lost connection of its own rejects publishes instead of crashing the process', async t => {
  const exchange = exchangeName(t, admin, 'lost')
  lastOpened = undefined
  const publisher = await spied.createPublisher({ url: AMQP_URL, exchange })
  t.teardown(() => publisher.close())
  const conn = opened()
  const closed = new Promise(resolve => conn.once('close', resolve))
  // Simulates a network failure: the socket errors under the connection.
  const socket = (conn as unknown as { connection: { stream: { destroy (err: Error): void } } }).connection.stream
  socket.destroy(new Error('simulated network failure'))
  await closed
  await t.rejects(publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } }), /closed/i)
})

/** A stand-in for an amqplib connection, to reach what a live broker does not do on demand. */
function fakeConnection (behaviour: { publishError?: unknown }) {
  const calls: Array<[string, ...unknown[]]> = []
  const channel = {
    async assertExchange (...args: unknown[]) { calls.push(['assertExchange', ...args]) },
    publish (exchange: string, key: string, body: Buffer, options: unknown, cb: (err: unknown) => void) {
      calls.push(['publish', exchange, key, body.toString('utf8'), options])
      setImmediate(() => cb(behaviour.publishError ?? null))
      return true
    },
    async close () { calls.push(['channel.close']) },
    on (event: string) { calls.push(['channel.on', event]) }
  }
  const connection = {
    async createConfirmChannel () { return channel },
    async close () { calls.push(['connection.close']) },
    on (event: string) { calls.push(['connection.on', event]) }
  }
  return { connection: connection as unknown as ChannelModel, calls }
}

t.test('without an exchange option, the training.events exchange is used', async t => {
  const fake = fakeConnection({})
  const publisher = await createPublisher({ connection: fake.connection })
  await publisher.publishRaw('training.started', 'x')
  await publisher.close()
  t.strictSame(fake.calls, [
    ['channel.on', 'error'],
    ['assertExchange', 'training.events', 'topic', { durable: true }],
    ['publish', 'training.events', 'training.started', 'x', { persistent: true, contentType: 'application/json' }],
    ['channel.close']
  ], 'declared and published to training.events; a shared connection is not closed')
})

t.test('a confirm error that is not an Error is wrapped in one', async t => {
  const fake = fakeConnection({ publishError: 'nacked by a test double' })
  const publisher = await createPublisher({ connection: fake.connection, exchange: 'unused' })
  const err = await publisher.publishRaw('training.started', 'x').catch((e: unknown) => e)
  t.ok(err instanceof Error, 'an Error')
  t.equal((err as Error).message, 'nacked by a test double')
})

t.test('a failed channel keeps its own error even if closing the connection fails too', async t => {
  let closeCalls = 0
  connectImpl = async () => ({
    on () {},
    async createConfirmChannel () { throw new Error('channel refused') },
    async close () { closeCalls++; throw new Error('close failed') }
  })
  t.teardown(() => { connectImpl = realConnect })
  await t.rejects(spied.createPublisher({ exchange: 'unused' }), { message: 'channel refused' })
  t.equal(closeCalls, 1, 'it tried to close its connection')
})
