/**
 * The link's frame codec, the gateway's session ordering (no gap and no
 * duplicate at the switch from opening to live, slow clients), and the
 * rendezvous routing, in process.
 */
import t from 'tap'
import { EventEmitter } from 'node:events'
import {
  FrameType, decodeFrame, encodeAccept, encodeClient, encodeClose, encodeLive, encodeOpen, encodePublish, encodeRefuse, encodeSend
} from '@training-live/service-kit'
import { ClientSession } from '../src/client-session.ts'
import { LinkPool, hash32, rendezvousOrder } from '../src/link-pool.ts'

t.test('every frame decodes to what was encoded; payloads are the same bytes', async t => {
  const meta = { kind: 'job' as const, tenant_id: 'tenant_a', job_id: 'job_é', last_id: '12-3', token: 'x.y.z' }
  t.same(decodeFrame(encodeOpen(7, meta)), { type: FrameType.Open, session: 7, meta })
  t.same(decodeFrame(encodeAccept(0xffffffff, 42)), { type: FrameType.Accept, session: 0xffffffff, channel: 42 })
  const refuse = decodeFrame(encodeRefuse(3, 503, 2, '{"code":"X"}'))
  t.match(refuse, { type: FrameType.Refuse, session: 3, status: 503, retryAfter: 2 })
  t.equal(refuse.type === FrameType.Refuse && refuse.body.toString(), '{"code":"X"}')
  const text = '{"id":"1-0","type":"progress","data":{"note":"ünïcode"}}'
  for (const payload of [text, Buffer.from(text)]) {
    const send = decodeFrame(encodeSend(9, '1-0', payload))
    t.match(send, { type: FrameType.Send, session: 9, id: '1-0' })
    t.equal(send.type === FrameType.Send && send.payload.toString(), text, 'Send carries the message bytes unchanged')
    const publish = decodeFrame(encodePublish(5, '1-0', true, payload))
    t.match(publish, { type: FrameType.Publish, channel: 5, id: '1-0', terminal: true })
    t.equal(publish.type === FrameType.Publish && publish.payload.toString(), text, 'Publish carries the message bytes unchanged')
  }
  t.match(decodeFrame(encodeSend(1, '', '{}')), { id: '' }, 'a snapshot has no id')
  t.same(decodeFrame(encodeLive(4, '99-1')), { type: FrameType.Live, session: 4, lastId: '99-1' })
  t.same(decodeFrame(encodeClose(4, 1011, 'upstream lost')), { type: FrameType.Close, session: 4, code: 1011, reason: 'upstream lost' })
  const client = decodeFrame(encodeClient(4, Buffer.from('{"type":"ping"}')))
  t.equal(client.type === FrameType.Client && client.payload.toString(), '{"type":"ping"}')
})

t.test('malformed frames are refused with a LinkFrameError, never a crash', async t => {
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['unknown type', Buffer.from([99, 0, 0, 0, 1])],
    ['short header', Buffer.from([FrameType.Send, 0, 0])],
    ['id longer than the frame', Buffer.from([FrameType.Send, 0, 0, 0, 1, 200, 65])],
    ['publish id longer than the frame', Buffer.from([FrameType.Publish, 0, 0, 0, 0, 1, 50])],
    ['metadata not JSON', Buffer.concat([Buffer.from([FrameType.Open, 0, 0, 0, 1]), Buffer.from('{nope')])],
    ['metadata not an object', Buffer.concat([Buffer.from([FrameType.Open, 0, 0, 0, 1]), Buffer.from('null')])],
    ['short accept', Buffer.from([FrameType.Accept, 0, 0, 0, 1, 0])]
  ]
  for (const [what, frame] of bad) t.throws(() => decodeFrame(frame), { code: 'LINK_BAD_FRAME' }, what)
  t.throws(() => encodeSend(1, 'x'.repeat(256), '{}'), { code: 'LINK_BAD_FRAME' }, 'a header string over 255 bytes is refused when encoding')
})

/** A client socket as the session uses it: records what is sent; `stalled` makes its buffer grow. */
class FakeClient extends EventEmitter {
  readyState = 1
  sent: string[] = []
  closed: { code: number, reason: string } | null = null
  bufferedAmount = 0
  stalled = false
  #callbacks: Array<() => void> = []
  send (payload: Buffer, _options: unknown, cb?: () => void): void {
    this.sent.push(payload.toString())
    if (this.stalled) { this.bufferedAmount += payload.length; if (cb !== undefined) this.#callbacks.push(cb) } else cb?.()
  }

  /** The client reads everything it was sent. */
  drain (): void {
    this.stalled = false
    this.bufferedAmount = 0
    const callbacks = this.#callbacks
    this.#callbacks = []
    for (const cb of callbacks) cb()
  }

  close (code: number, reason: string): void { this.closed = { code, reason }; this.readyState = 2 }
  terminate (): void { this.readyState = 3 }
}

function session (limits: Partial<ConstructorParameters<typeof ClientSession>[1]> = {}) {
  const counts = { slow: 0, sent: 0 }
  const s = new ClientSession(1, { highWaterMark: 64, slowClientTimeoutMs: 60_000, maxBufferedBytes: 1024, ...limits }, {
    onSlowClient: () => { counts.slow++ },
    onSent: () => { counts.sent++ }
  })
  const client = new FakeClient()
  return { s, client, counts, attach: () => s.attach(client as never) }
}

const msg = (id: string) => Buffer.from(`{"id":"${id}"}`)

t.test('opening, then the channel after the last id: no gap and no duplicate at the switch', async t => {
  const { s, client, attach } = session()
  s.publish(msg('1-0'), '1-0', false) // before Live: kept
  s.send(Buffer.from('{"type":"connected"}'), '')
  s.publish(msg('2-0'), '2-0', false)
  s.send(msg('1-0'), '1-0') // history
  s.send(msg('2-0'), '2-0')
  attach()
  t.same(client.sent, ['{"type":"connected"}', '{"id":"1-0"}', '{"id":"2-0"}'], 'the opening, in order, once upgraded')
  s.publish(msg('3-0'), '3-0', false) // before Live still
  s.goLive('2-0')
  t.same(client.sent.slice(3), ['{"id":"3-0"}'], 'at Live: what the channel sent after the opening, once')
  s.publish(msg('3-0'), '3-0', false)
  s.publish(msg('2-5'), '2-5', false)
  t.equal(client.sent.length, 4, 'an id at or before the last one is skipped')
  s.publish(msg('4-0'), '4-0', true)
  t.same(client.sent.slice(4), ['{"id":"4-0"}'])
  t.same(client.closed, { code: 1000, reason: 'job finished' }, 'a terminal event closes with 1000')
  s.publish(msg('5-0'), '5-0', false)
  t.equal(client.sent.length, 5, 'nothing after the close')
})

t.test('Live with an id ahead of the channel: what pub/sub delivers late is skipped, then live resumes', async t => {
  const { s, client, attach } = session()
  attach()
  s.send(Buffer.from('{"type":"connected"}'), '')
  s.goLive('7-0')
  s.publish(msg('6-0'), '6-0', false)
  s.publish(msg('7-0'), '7-0', false)
  s.publish(msg('8-0'), '8-0', false)
  t.same(client.sent, ['{"type":"connected"}', '{"id":"8-0"}'])
})

t.test('a client that stops reading: messages wait in order, go out as it drains, and a live backlog over the bound is cut', async t => {
  const { s, client, counts, attach } = session({ highWaterMark: 20, maxBufferedBytes: 200 })
  attach()
  s.goLive('')
  client.stalled = true
  for (let i = 1; i <= 6; i++) s.publish(msg(`${i}-0`), `${i}-0`, false)
  t.ok(client.sent.length < 6, `only what fits under the mark went to the socket (${client.sent.length})`)
  client.drain()
  t.same(client.sent.map(m => JSON.parse(m).id), ['1-0', '2-0', '3-0', '4-0', '5-0', '6-0'], 'the rest followed once it drained, in order')
  client.stalled = true
  for (let i = 7; i <= 40 && client.closed === null; i++) s.publish(msg(`${i}-0`), `${i}-0`, false)
  t.same(client.closed, { code: 1013, reason: 'client too slow' }, 'cut with 1013 once its waiting live messages passed the bound')
  t.equal(counts.slow, 1, 'counted once')
})

t.test('a long opening is paced by the client, never cut for its length', async t => {
  const { s, client, counts, attach } = session({ highWaterMark: 64, maxBufferedBytes: 100 })
  attach()
  client.stalled = true
  for (let i = 1; i <= 50; i++) s.send(msg(`${i}-0`), `${i}-0`)
  t.equal(counts.slow, 0, 'the opening waits; it is not a slow client')
  t.equal(client.closed, null)
  client.drain()
  t.equal(client.sent.length, 50, 'all of it went out once the client read')
})

t.test('rendezvous: every gateway picks the same replica for a job, and only a lost replica\'s jobs move', async t => {
  const replicas = ['http://a:8001/', 'http://b:8001/', 'http://c:8001/'].map(href => ({ base: new URL(href) }))
  const jobs = Array.from({ length: 3000 }, (_, i) => `tenant_${i % 7}/job_${i}`)
  const first = (key: string, list: typeof replicas) => rendezvousOrder(key, list)[0]?.base.href
  const counts = new Map<string, number>()
  for (const job of jobs) counts.set(first(job, replicas) as string, (counts.get(first(job, replicas) as string) ?? 0) + 1)
  for (const [href, n] of counts) t.ok(n > 800 && n < 1200, `${href} gets about a third (${n})`)
  t.same(jobs.map(j => first(j, [...replicas].reverse())), jobs.map(j => first(j, replicas)), 'the order of the list does not matter')
  const without = replicas.filter(r => r.base.href !== 'http://b:8001/')
  const moved = jobs.filter(j => first(j, replicas) !== first(j, without))
  t.ok(moved.every(j => first(j, replicas) === 'http://b:8001/'), `only the lost replica's jobs moved (${moved.length})`)
  t.not(hash32('job_1'), hash32('job_2'), 'keys that differ only at the end hash apart')
})

t.test('a TRAINING_URLS name gets one link per address it resolves to, found again on each refresh', async t => {
  let answer = ['10.9.0.1', '10.9.0.2']
  const options = {
    secret: 'x'.repeat(16),
    connectTimeoutMs: 50,
    heartbeatMs: 1000,
    limits: { highWaterMark: 64, slowClientTimeoutMs: 1000, maxBufferedBytes: 1024 },
    hooks: { onSlowClient: () => {}, onSent: () => {} },
    onState: () => {},
    onLost: () => {},
    onBadFrame: () => {}
  }
  const pool = new LinkPool([new URL('http://training:8001'), new URL('http://127.0.0.1:9'), new URL('http://localhost:8001')], options, 60_000,
    async host => host === 'training' ? answer : ['127.0.0.1', '::1'])
  t.teardown(() => pool.stop())
  await pool.refresh()
  t.same(pool.links.map(l => l.base.href).sort(), ['http://10.9.0.1:8001/', 'http://10.9.0.2:8001/', 'http://127.0.0.1:9/', 'http://localhost:8001/'],
    'a link per address of a name, an address as is, and one link for a loopback name')
  answer = ['10.9.0.2', '10.9.0.3']
  await pool.refresh()
  t.same(pool.links.map(l => l.base.href).sort(), ['http://10.9.0.2:8001/', 'http://10.9.0.3:8001/', 'http://127.0.0.1:9/', 'http://localhost:8001/'],
    'a new replica gets a link, a gone one is let go')
})
