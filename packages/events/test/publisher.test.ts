import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { promisify } from 'node:util'
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage, type RecoveringChannelModel } from 'amqplib'
import t, { type Test } from 'tap'
import { createPublisher, InvalidEventError, PublishTimeoutError, type Publisher, type PublisherOptions } from '../src/publisher.ts'
import type { TrainingEventMap } from '../src/schemas.ts'

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const RUN = randomUUID().slice(0, 8)
const TENANT = `tenant_pub_${RUN}`
const JOB = `training_pub_${RUN}`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const run = promisify(execFile)

/** A unique exchange name, deleted when the test ends. */
function exchangeName (t: Test, admin: Channel, label: string): string {
  const name = `test.events.${RUN}.${label}.${randomUUID().slice(0, 8)}`
  t.teardown(async () => { await admin.deleteExchange(name).catch(() => {}) })
  return name
}

interface Inbox {
  queue: string
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
    queue,
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
let connectImpl: (url: string, options: unknown) => Promise<unknown> = realConnect
let lastOpened: RecoveringChannelModel | undefined
let lastUrl: string | undefined
let lastOptions: unknown
async function realConnect (url: string, options: unknown): Promise<RecoveringChannelModel> {
  lastUrl = url
  lastOptions = options
  const recovering = await amqplib.connect(url === 'amqp://guest:guest@127.0.0.1:5672' ? AMQP_URL : url, options as { recovery: true })
  lastOpened = recovering
  return recovering
}
let spied: typeof import('../src/publisher.ts')
t.before(async () => {
  spied = await t.mockImport<typeof import('../src/publisher.ts')>('../src/publisher.ts', {
    amqplib: { ...amqplib, connect: (url: string, options: unknown) => connectImpl(url, options) }
  })
})
function opened (): RecoveringChannelModel {
  if (lastOpened === undefined) throw new Error('no connection was opened')
  return lastOpened
}

/** The socket under a recovering connection's current connection (amqplib internals). */
function socketOf (recovering: RecoveringChannelModel): Socket {
  const model = (recovering as unknown as { _core: { _model: { connection: { stream: Socket } } | null } })._core._model
  if (model === null) throw new Error('not connected right now')
  return model.connection.stream
}

/** Closes, from the broker's side, only the connection whose client port is `localPort` (other tests share the broker). */
async function closeFromBroker (localPort: number, reason: string): Promise<void> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'pid', 'peer_port'])
  const row = stdout.split('\n').map(line => line.trim().split('\t')).find(([, port]) => Number(port) === localPort)
  if (row?.[0] === undefined) throw new Error(`no broker connection from port ${localPort}`)
  await run('rabbitmqctl', ['close_connection', row[0], reason])
}

/**
 * A TCP relay to the broker that a test controls: `cut()` drops its connections
 * and refuses new ones (the broker is unreachable), `stall()` holds back what
 * the broker sends (a stalled network), `restore()` lets everything through again.
 */
async function brokerRelay (t: Test) {
  const target = new URL(AMQP_URL)
  const sockets = new Set<Socket>()
  let mode: 'up' | 'cut' | 'stalled' = 'up'
  let held: Array<() => void> = []
  const server = createServer(client => {
    if (mode === 'cut') return client.destroy()
    const broker = connect(Number(target.port || 5672), target.hostname)
    for (const socket of [client, broker]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => { sockets.delete(socket); client.destroy(); broker.destroy() })
    }
    client.pipe(broker)
    broker.on('data', (chunk: Buffer) => {
      if (mode === 'stalled') held.push(() => client.write(chunk))
      else client.write(chunk)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  const { port } = server.address() as { port: number }
  const url = new URL(AMQP_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return {
    url: url.href,
    cut () {
      mode = 'cut'
      held = []
      for (const socket of sockets) socket.destroy()
    },
    stall () { mode = 'stalled' },
    restore () {
      mode = 'up'
      for (const write of held) write()
      held = []
    }
  }
}

/** Waits for `event` on `emitter`, failing after `ms` (a bound, not a measurement); unlike once(), an 'error' meanwhile does not reject. */
function nextEvent (emitter: EventEmitter, event: string, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms)
    emitter.once(event, () => { clearTimeout(timer); resolve() })
  })
}

/** What a publisher did on the confirm channels it opened through watched(). */
interface Watch {
  declares: number
  sends: number
  /** Awaited after each exchange declare, before the publisher goes on. */
  afterDeclare: () => Promise<void>
}

/** `connection`, with every confirm channel the publisher opens on it reporting into `watch`. */
function watched (connection: ChannelModel | RecoveringChannelModel, watch: Watch): ChannelModel {
  return {
    on (event: string, listener: (...args: unknown[]) => void) { connection.on(event, listener) },
    close: () => connection.close(),
    async createConfirmChannel () {
      const channel = await connection.createConfirmChannel()
      const declare = channel.assertExchange.bind(channel)
      const publish = channel.publish.bind(channel)
      channel.assertExchange = async (...args) => {
        const ok = await declare(...args)
        watch.declares++
        await watch.afterDeclare()
        return ok
      }
      channel.publish = (...args) => {
        watch.sends++
        return publish(...args)
      }
      return channel
    }
  } as unknown as ChannelModel
}

function newWatch (): Watch {
  return { declares: 0, sends: 0, afterDeclare: async () => {} }
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

t.test('a broker nack rejects the publish at once, without a retry', async t => {
  const exchange = exchangeName(t, admin, 'nack')
  const publisher = await publisherFor(t, { exchange })
  const { queue } = await admin.assertQueue('', { exclusive: true, autoDelete: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } })
  await admin.bindQueue(queue, exchange, '#')
  // A second queue takes the message: it shows how many times the publisher sent it.
  const inbox = await bindInbox(admin, exchange, '#')
  const nacked = publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } })
  await t.rejects(nacked, { message: 'message nacked' })
  await t.rejects(publisher.publishRaw('training.started', 'x'), { message: 'message nacked' })
  t.equal(bodyOf(await inbox.next()).type, 'training.started')
  t.equal((await inbox.next()).content.toString('utf8'), 'x')
  t.equal(await inbox.quiet(200), 0, 'each was sent once: a nack is not retried')
  await admin.unbindQueue(queue, exchange, '#')
  await publisher.publishRaw('training.started', 'after')
  t.equal((await inbox.next()).content.toString('utf8'), 'after', 'the publisher goes on after a nack')
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
  t.match(lastOptions, {
    recovery: { initialDelay: 100, maxDelay: 5000, factor: 2, jitter: 0.3, maxRetries: Infinity, initialMaxRetries: 0 }
  }, "amqplib's recovery: the first connect fails fast, later drops reconnect forever with capped, jittered back-off")
  await publisher.close()
  await t.rejects(opened().createChannel(), /closed/i, 'its connection is closed')
  await publisher.close()
  t.pass('a second close() resolves')
  await t.rejects(publisher.publishRaw('training.started', 'x'), { message: 'publisher closed' }, 'publishing after close fails')
})

t.test('reconnect options set the back-off of the connection recovery', async t => {
  const exchange = exchangeName(t, admin, 'options')
  const publisher = await spied.createPublisher({ exchange, reconnect: { initialDelayMs: 20, maxDelayMs: 400 } })
  t.teardown(() => publisher.close())
  t.match(lastOptions, { recovery: { initialDelay: 20, maxDelay: 400 } })
})

t.test('the first connect to an unreachable broker rejects promptly', { timeout: 10_000 }, async t => {
  await t.rejects(createPublisher({ url: 'amqp://guest:guest@127.0.0.1:1' }), { code: 'ECONNREFUSED' })
})

t.test('the exchange deleted under a live publisher: the next publish re-declares it and arrives', async t => {
  const exchange = exchangeName(t, admin, 'deleted')
  const shared = await amqplib.connect(AMQP_URL)
  t.teardown(() => shared.close())
  // The deletion also removes the inbox's binding; the test binds it again as soon
  // as the publisher has re-declared the exchange, before it republishes.
  const watch = newWatch()
  const publisher = await createPublisher({ exchange, connection: watched(shared, watch) })
  t.teardown(() => publisher.close())
  const inbox = await bindInbox(admin, exchange)

  await admin.deleteExchange(exchange)
  watch.afterDeclare = async () => { await admin.bindQueue(inbox.queue, exchange, 'training.#') }
  // Publishing to a missing exchange makes the broker close the channel (404).
  const sent = await publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } })
  t.equal(watch.declares, 2, 'declared again on a new channel')
  t.equal((await inbox.next()).properties.messageId, sent.event_id, 'the publish that met the missing exchange arrived')
  await admin.checkExchange(exchange)
  const later = await publisher.publish('training.completed', { job_id: JOB, tenant_id: TENANT, data: {} })
  t.equal((await inbox.next()).properties.messageId, later.event_id, 'and so does the next one')
})

/** A publisher with a connection of its own (opened through the spied module, so a test can reach its socket), watched. */
async function ownWatchedPublisher (t: Test, exchange: string) {
  const watch = newWatch()
  connectImpl = async (url, options) => watched(await realConnect(url, options), watch)
  t.teardown(() => { connectImpl = realConnect })
  lastOpened = undefined
  const publisher = await spied.createPublisher({ url: AMQP_URL, exchange, reconnect: { initialDelayMs: 20, maxDelayMs: 500 } })
  t.teardown(() => publisher.close())
  return { publisher, recovering: opened(), watch }
}

t.test('an idle publisher whose connection drops opens a channel again; the next publish goes out on it', async t => {
  const exchange = exchangeName(t, admin, 'idle')
  const { publisher, recovering, watch } = await ownWatchedPublisher(t, exchange)
  const inbox = await bindInbox(admin, exchange)

  socketOf(recovering).destroy(new Error('simulated network failure'))
  while (watch.declares < 2) await sleep(10)
  const sent = await publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } })
  t.equal((await inbox.next()).properties.messageId, sent.event_id)
  t.equal(watch.sends, 1, 'sent once, on the new channel')
})

t.test('a dropped connection of its own: every publish resolves, every event arrives, in publish order', async t => {
  const exchange = exchangeName(t, admin, 'dropped')
  const { publisher, recovering, watch } = await ownWatchedPublisher(t, exchange)
  const inbox = await bindInbox(admin, exchange)

  const ids: string[] = []
  const published: Array<Promise<unknown>> = []
  /** Publishes up to `count` events in all, in bursts of 10, 5 ms apart, without waiting for their confirms. */
  async function publishUpTo (count: number): Promise<void> {
    while (ids.length < count) {
      if (ids.length % 10 === 0) await sleep(5)
      const eventId = `${RUN}-dropped-${ids.length}`
      ids.push(eventId)
      published.push(publisher.publish('training.progress', { event_id: eventId, job_id: JOB, tenant_id: TENANT, data: { step: 'Model Training', progress: ids.length } }))
    }
  }

  await publishUpTo(100)
  // A network failure right after a burst: the socket errors under the connection
  // while the last publishes are unconfirmed.
  let reconnected = nextEvent(recovering, 'connect')
  socketOf(recovering).destroy(new Error('simulated network failure'))
  await publishUpTo(150)
  await reconnected
  await Promise.all(published)
  t.ok(watch.sends > 150, `${watch.sends - 150} publish(es) sent again after the network failure`)

  // The broker closes the connection while publishes go on.
  const broker = { closed: false }
  recovering.once('disconnect', () => { broker.closed = true })
  reconnected = nextEvent(recovering, 'connect')
  const closing = closeFromBroker(socketOf(recovering).localPort!, 'publisher test: broker-side close')
  const sendsBefore = watch.sends
  while (!broker.closed && ids.length < 5000) {
    await publishUpTo(ids.length + 10)
    await sleep(15)
  }
  await closing
  t.ok(broker.closed, 'the broker closed the connection while the publisher was publishing')
  await publishUpTo(ids.length + 50)
  await reconnected

  const outcomes = await Promise.allSettled(published)
  t.strictSame(outcomes.filter(o => o.status === 'rejected'), [], `all ${ids.length} publishes resolved`)
  t.comment(`${watch.sends - sendsBefore - (ids.length - 150)} publish(es) sent again after the broker-side close`)

  const firstArrivals: string[] = []
  const contentOf = new Map<string, Buffer>()
  let duplicates = 0
  while (contentOf.size < ids.length) {
    const msg = await inbox.next(15_000)
    const id = String(msg.properties.messageId)
    const seen = contentOf.get(id)
    if (seen === undefined) {
      contentOf.set(id, msg.content)
      firstArrivals.push(id)
    } else {
      duplicates++
      t.ok(seen.equals(msg.content), `a duplicate of ${id} repeats it exactly`)
    }
  }
  t.strictSame(firstArrivals, ids, 'every event arrived, first arrivals in publish order')
  t.comment(`${ids.length} events, ${watch.sends} sends, ${duplicates} duplicate(s) from confirms lost with the connection`)
})

t.test('confirms lost with the connection: the events go again and arrive twice, as exact repeats', async t => {
  const relay = await brokerRelay(t)
  const exchange = exchangeName(t, admin, 'repeats')
  const publisher = await publisherFor(t, { url: relay.url, exchange, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } })
  const inbox = await bindInbox(admin, exchange)

  // The broker routes them, but its confirms are held back, then lost with the connection.
  relay.stall()
  const events = Array.from({ length: 20 }, (_, i) => ({ event_id: `${RUN}-repeats-${i}`, job_id: JOB, tenant_id: TENANT, data: { step: 'Model Training', progress: i } }))
  const published = events.map(event => publisher.publish('training.progress', event))
  const firstCopies: ConsumeMessage[] = []
  while (firstCopies.length < events.length) firstCopies.push(await inbox.next())
  relay.cut()
  relay.restore()
  await Promise.all(published)
  const secondCopies: ConsumeMessage[] = []
  while (secondCopies.length < events.length) secondCopies.push(await inbox.next())
  const ids = events.map(e => e.event_id)
  t.strictSame(firstCopies.map(m => m.properties.messageId), ids, 'first copies in publish order')
  t.strictSame(secondCopies.map(m => m.properties.messageId), ids, 'sent again, in publish order')
  t.ok(secondCopies.every((m, i) => m.content.equals(firstCopies[i]!.content)), 'each repeat is the same message, same event_id')
  t.equal(await inbox.quiet(100), 0, 'nothing else')
})

t.test('a message the broker refuses by closing the channel is retried with back-off until it times out', async t => {
  const exchange = exchangeName(t, admin, 'refused')
  const publisher = await publisherFor(t, { exchange, publishTimeoutMs: 500, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } })
  const inbox = await bindInbox(admin, exchange)
  // An expiration that is not a number of milliseconds: the broker closes the channel (406).
  await t.rejects(publisher.publishRaw('training.started', 'refused', { expiration: 'soon' }), { name: 'PublishTimeoutError' })
  const sent = await publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } })
  const msg = await inbox.next()
  t.equal(msg.properties.messageId, sent.event_id, 'the refused message never arrived; the next one did')
})

t.test('options amqplib cannot encode reject the publish, and the publisher goes on', async t => {
  const exchange = exchangeName(t, admin, 'encode')
  const publisher = await publisherFor(t, { exchange })
  const inbox = await bindInbox(admin, exchange)
  await t.rejects(publisher.publishRaw('training.started', 'x', { priority: 'high' as unknown as number }), /priority/)
  await publisher.publishRaw('training.started', 'y')
  t.equal((await inbox.next()).content.toString('utf8'), 'y')
})

t.test('the broker away longer than publishTimeoutMs: PublishTimeoutError; a publish confirmed once it is back resolves', async t => {
  const relay = await brokerRelay(t)
  const exchange = exchangeName(t, admin, 'away')
  const publisher = await publisherFor(t, { url: relay.url, exchange, publishTimeoutMs: 1500, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } })
  const inbox = await bindInbox(admin, exchange)

  relay.cut()
  const err = await publisher.publish('training.started', { job_id: JOB, tenant_id: TENANT, data: { total_products: 1 } }).catch((e: unknown) => e)
  t.ok(err instanceof PublishTimeoutError, 'a PublishTimeoutError')
  t.ok(err instanceof Error, 'an Error')
  t.match(err, {
    name: 'PublishTimeoutError',
    code: 'EVENTS_PUBLISH_TIMEOUT',
    routingKey: 'training.started',
    timeoutMs: 1500,
    message: 'publish to "training.started" was not confirmed by the broker within 1500 ms'
  })

  const back = publisher.publish('training.progress', { job_id: JOB, tenant_id: TENANT, data: { step: 'Data Analysis' } })
  relay.restore()
  const sent = await back
  t.equal((await inbox.next()).properties.messageId, sent.event_id, 'the first to arrive is the one published while away; the timed-out one was dropped')
})

t.test('a confirm that comes after the timeout is ignored', async t => {
  const relay = await brokerRelay(t)
  const exchange = exchangeName(t, admin, 'late')
  const publisher = await publisherFor(t, { url: relay.url, exchange, publishTimeoutMs: 500 })
  const inbox = await bindInbox(admin, exchange)

  relay.stall()
  const late = publisher.publishRaw('training.started', 'late')
  await t.rejects(late, { code: 'EVENTS_PUBLISH_TIMEOUT' })
  t.equal((await inbox.next()).content.toString('utf8'), 'late', 'the broker had it: a timeout means "not known to have arrived"')
  relay.restore()
  await publisher.publishRaw('training.started', 'next')
  t.equal((await inbox.next()).content.toString('utf8'), 'next', 'the late confirm settled nothing, and the timed-out message was not sent again')
  t.equal(await inbox.quiet(100), 0)
})

function activeTimers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

t.test('close() waits for pending confirms, then refuses publishes and leaves no timer', async t => {
  const relay = await brokerRelay(t)
  const exchange = exchangeName(t, admin, 'drain')
  const timersBefore = activeTimers()
  const publisher = await createPublisher({ url: relay.url, exchange, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } })
  const inbox = await bindInbox(admin, exchange)

  relay.cut()
  let confirmed = false
  const pending = publisher.publishRaw('training.started', 'pending').then(() => { confirmed = true })
  const closed = publisher.close()
  await t.rejects(publisher.publishRaw('training.started', 'refused'), { message: 'publisher closed' }, 'a publish after close() rejects')
  t.equal(publisher.close(), closed, 'close() again is the same close')
  relay.restore()
  await closed
  t.equal(confirmed, true, 'close() resolved after the pending publish was confirmed')
  await pending
  t.equal((await inbox.next()).content.toString('utf8'), 'pending')
  t.equal(activeTimers(), timersBefore, 'no timer left behind')
})

t.test('close() while the broker is away: pending publishes time out, then it closes', async t => {
  const relay = await brokerRelay(t)
  const exchange = exchangeName(t, admin, 'away-close')
  const timersBefore = activeTimers()
  const publisher = await createPublisher({ url: relay.url, exchange, publishTimeoutMs: 500, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } })
  relay.cut()
  const pending = publisher.publishRaw('training.started', 'never')
  const closed = publisher.close()
  await t.rejects(pending, { code: 'EVENTS_PUBLISH_TIMEOUT' })
  await closed
  t.equal(activeTimers(), timersBefore, 'no timer left behind, no reconnect going on')
})

t.test('a shared connection closed for good: publishes time out, the publisher keeps retrying until closed', async t => {
  const shared = await amqplib.connect(AMQP_URL)
  const exchange = exchangeName(t, admin, 'shared-gone')
  const publisher = await createPublisher({ connection: shared, exchange, publishTimeoutMs: 300, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } })
  await shared.close()
  await t.rejects(publisher.publishRaw('training.started', 'x'), { name: 'PublishTimeoutError' })
  await publisher.close()
  t.pass('closed')
})

/** A stand-in for an amqplib connection, to reach what a live broker does not do on demand. */
function fakeConnection (behaviour: {
  publishError?: unknown
  /** Runs inside assertExchange of channel `n` (1-based). */
  onDeclare?: (channel: EventEmitter, n: number) => void
  /** Awaited before channel `n` is opened. */
  beforeOpen?: (n: number) => Promise<void>
}) {
  const calls: Array<[string, ...unknown[]]> = []
  const channels: EventEmitter[] = []
  const connection = {
    async createConfirmChannel () {
      const n = channels.length + 1
      await behaviour.beforeOpen?.(n)
      const channel = Object.assign(new EventEmitter(), {
        async assertExchange (...args: unknown[]) {
          calls.push(['assertExchange', n, ...args])
          behaviour.onDeclare?.(channel, n)
        },
        publish (exchange: string, key: string, body: Buffer, options: unknown, cb: (err: unknown) => void) {
          calls.push(['publish', n, exchange, key, body.toString('utf8'), options])
          setImmediate(() => cb(behaviour.publishError ?? null))
          return true
        },
        async close () { calls.push(['channel.close', n]) }
      })
      channels.push(channel)
      return channel
    },
    async close () { calls.push(['connection.close']) },
    on () {}
  }
  return { connection: connection as unknown as ChannelModel, calls, channels }
}

t.test('without an exchange option, the training.events exchange is used', async t => {
  const fake = fakeConnection({})
  const publisher = await createPublisher({ connection: fake.connection })
  await publisher.publishRaw('training.started', 'x')
  await publisher.close()
  t.strictSame(fake.calls, [
    ['assertExchange', 1, 'training.events', 'topic', { durable: true }],
    ['publish', 1, 'training.events', 'training.started', 'x', { persistent: true, contentType: 'application/json' }],
    ['channel.close', 1]
  ], 'declared and published to training.events; a shared connection is not closed')
})

t.test('a publishTimeoutMs that a timer cannot hold is refused', async t => {
  const fake = fakeConnection({})
  for (const publishTimeoutMs of [0, -1, Number.NaN, Infinity, 2 ** 31]) {
    await t.rejects(createPublisher({ connection: fake.connection, publishTimeoutMs }), { name: 'RangeError', message: /publishTimeoutMs must be from 1 to 2147483647 ms/ }, String(publishTimeoutMs))
  }
  t.strictSame(fake.calls, [], 'refused before anything was opened')
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

t.test('a channel that closes while it is being opened is not used; another one is', async t => {
  // Closed between the exchange declare and its use: a race a live broker does not produce on demand.
  const fake = fakeConnection({ onDeclare: (channel, n) => { if (n === 2) channel.emit('close') } })
  const publisher = await createPublisher({ connection: fake.connection, exchange: 'unused', reconnect: { initialDelayMs: 1, maxDelayMs: 2 } })
  fake.channels[0]?.emit('close')
  await publisher.publishRaw('training.started', 'x')
  await publisher.close()
  t.strictSame(fake.calls.filter(([name]) => name === 'publish').map(([, n]) => n), [3], 'published on the third channel only')
})

t.test('close() during a reopen closes the channel that opens afterwards', { timeout: 5000 }, async t => {
  let release = (): void => {}
  const opening = new Promise<void>(resolve => { release = resolve })
  let reopening = (): void => {}
  const reopened = new Promise<void>(resolve => { reopening = resolve })
  const fake = fakeConnection({ beforeOpen: async n => { if (n === 2) { reopening(); await opening } } })
  const publisher = await createPublisher({ connection: fake.connection, exchange: 'unused' })
  fake.channels[0]?.emit('close')
  await reopened
  await publisher.close()
  release()
  while (!fake.calls.some(([name, n]) => name === 'channel.close' && n === 2)) await sleep(5)
  t.strictSame(fake.calls.filter(([name]) => name === 'channel.close'), [['channel.close', 2]], 'the late channel was closed, the lost one was not touched')
})
