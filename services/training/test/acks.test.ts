/**
 * The consumer's ack batching, against a fake channel: handled deliveries at
 * the front go in one `multiple` ack, others one by one, once per turn of the
 * event loop, and no ack ever covers a delivery that was not handled.
 */
import t from 'tap'
import type { Channel, ConsumeMessage } from 'amqplib'
import { Acks } from '../src/event-consumer.ts'

function fakeChannel () {
  const calls: string[] = []
  const channel = {
    ack: (msg: ConsumeMessage, allUpTo = false) => { calls.push(`ack ${msg.fields.deliveryTag}${allUpTo ? ' and before' : ''}`) },
    nack: (msg: ConsumeMessage) => { calls.push(`nack ${msg.fields.deliveryTag}`) }
  }
  return { channel: channel as unknown as Channel, calls }
}

const delivery = (tag: number) => ({ fields: { deliveryTag: tag } }) as unknown as ConsumeMessage
const nextTurn = () => new Promise(resolve => setImmediate(resolve))

t.test('acks are batched per turn; a multiple ack covers only a handled prefix', async t => {
  const { channel, calls } = fakeChannel()
  const acks = new Acks(channel)
  const msgs = Array.from({ length: 10 }, (_, i) => delivery(i + 1))
  for (const m of msgs) acks.delivered(m)

  acks.ack(msgs[1]!)
  acks.ack(msgs[2]!)
  t.same(calls, [], 'nothing sent within the turn')
  await nextTurn()
  t.same(calls, ['ack 2', 'ack 3'], '1 is not handled: 2 and 3 one by one')

  acks.ack(msgs[0]!)
  acks.ack(msgs[3]!)
  acks.ack(msgs[4]!)
  await nextTurn()
  t.same(calls.slice(2), ['ack 5 and before'], '1, 4 and 5 in one ack (2 and 3 were settled already)')

  // 6 is held back (say, delivered while draining): never covered by a multiple ack.
  acks.ack(msgs[6]!)
  acks.ack(msgs[7]!)
  acks.reject(msgs[8]!)
  t.same(calls.slice(3), ['nack 9'], 'a rejection goes at once')
  await nextTurn()
  t.same(calls.slice(4), ['ack 7', 'ack 8'])

  acks.ack(msgs[9]!)
  acks.flush()
  t.same(calls.slice(6), ['ack 10'], 'flush() sends what is due at once (stop() before closing the channel)')
  await nextTurn()
  t.equal(calls.length, 7, 'nothing sent twice')
  acks.ack(msgs[9]!)
  await nextTurn()
  t.equal(calls.length, 7, 'a settled delivery is not acked again')
})
