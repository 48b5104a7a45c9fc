/** `for await (const m of watch)`: the same messages, until the end, close(), or the error. */
import t from 'tap'
import type { ServerMessage } from '@training-live/events'
import { MessageStream } from '../src/message-stream.ts'
import { fakeServer, settle } from './helpers/fake-socket.ts'
import { completed, product } from './helpers/messages.ts'
import { openWatch, startWatch } from './helpers/watch.ts'

async function collect (iterable: AsyncIterable<ServerMessage>): Promise<string[]> {
  const types: string[] = []
  for await (const m of iterable) types.push(m.type)
  return types
}

t.test('a loop started before the first message sees them all, and ends when the job ends', async t => {
  const server = fakeServer('browser')
  const r = startWatch(server)
  const loop = collect(r.watch)
  const socket = await server.socket(1)
  socket.open()
  socket.deliver(completed('101-0'))
  socket.serverClose(1000)
  t.strictSame(await loop, ['completed'])
})

t.test('a loop sees what comes after it started, and ends on close() after what was already received', async t => {
  const { r, socket } = await openWatch()
  const loop = collect(r.watch)
  socket.deliver(product('101-0', 1))
  socket.deliver({ type: 'pong' })
  r.watch.close()
  t.strictSame(await loop, ['product_completed', 'pong'])
})

t.test('throws the WatchError when it gives up, after the messages before it', async t => {
  const { r, socket } = await openWatch()
  const iterator = r.watch[Symbol.asyncIterator]()
  socket.deliver(product('101-0', 1))
  socket.serverClose(1008)
  t.equal((await iterator.next()).value?.type, 'product_completed')
  await t.rejects(iterator.next(), { name: 'WatchError', code: 'POLICY' })
  t.strictSame(await iterator.next(), { value: undefined, done: true }, 'thrown once; then it is over')
})

t.test('a loop waiting when the watch gives up throws at once', async t => {
  const { r, socket } = await openWatch()
  const loop = collect(r.watch)
  socket.serverClose(1009)
  await t.rejects(loop, { code: 'POLICY' })
})

t.test('leaving a loop early does not close the watch; another loop sees what comes next', async t => {
  const { r, socket } = await openWatch()
  const first: string[] = []
  const early = (async () => {
    for await (const m of r.watch) {
      first.push(m.type)
      if (first.length === 1) break
    }
  })()
  socket.deliver(product('101-0', 1))
  socket.deliver(product('102-0', 2))
  await early
  t.strictSame(first, ['product_completed'])
  t.equal(r.watch.connection, 'open', 'the watch goes on')
  const later = collect(r.watch)
  socket.deliver(product('103-0', 3))
  socket.serverClose(1000)
  t.strictSame(await later, ['product_completed'])
  t.equal(r.messages.length, 4)
})

t.test('a loop started after the end ends at once; after a failure it throws', async t => {
  const ended = startWatch(fakeServer('browser'))
  ended.watch.close()
  t.strictSame(await collect(ended.watch), [])

  const { r, socket } = await openWatch()
  socket.serverClose(1008)
  await settle()
  await t.rejects(collect(r.watch), { code: 'POLICY' })
})

t.test('MessageStream: buffers, hands on in order, drops what comes after its end', async t => {
  let returned = 0
  const stream = new MessageStream<number>(() => { returned++ })
  t.equal(stream[Symbol.asyncIterator](), stream)
  stream.push(1)
  stream.push(2)
  t.strictSame(await stream.next(), { value: 1, done: false })
  t.strictSame(await stream.next(), { value: 2, done: false })
  const waiting = stream.next()
  stream.push(3)
  t.strictSame(await waiting, { value: 3, done: false })
  stream.end()
  stream.end(new Error('ignored: already ended'))
  stream.push(4)
  t.strictSame(await stream.next(), { value: undefined, done: true })
  t.strictSame(await stream.return(), { value: undefined, done: true })
  t.equal(returned, 1)

  const other = new MessageStream<number>(() => {})
  const reading = other.next()
  other.end()
  t.strictSame(await reading, { value: undefined, done: true }, 'a reader waiting when it ends is told it is done')
})
