/**
 * Per-test AMQP topology names, so that test files never see each other's
 * events, and cleanup of what a test declared.
 */
import amqplib from 'amqplib'
import { uniqueId } from './ids.ts'

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface Topology {
  exchange: string
  queue: string
  deadLetterExchange: string
  deadLetterQueue: string
  /** The training service's environment for this topology. */
  env: Record<string, string>
}

export function testTopology (name: string): Topology {
  const id = uniqueId(name)
  const t = {
    exchange: `test.${id}.events`,
    queue: `test.${id}.progress`,
    deadLetterExchange: `test.${id}.dlx`,
    deadLetterQueue: `test.${id}.dead`
  }
  return {
    ...t,
    env: {
      AMQP_URL,
      REDIS_URL,
      AMQP_EXCHANGE: t.exchange,
      AMQP_QUEUE: t.queue,
      AMQP_DEAD_LETTER_EXCHANGE: t.deadLetterExchange,
      AMQP_DEAD_LETTER_QUEUE: t.deadLetterQueue,
      REDIS_KEY_PREFIX: `test:${id}:`
    }
  }
}

/** Deletes the exchanges and queues of a test topology. */
export async function deleteTopology (t: Topology): Promise<void> {
  const connection = await amqplib.connect(AMQP_URL)
  try {
    const channel = await connection.createChannel()
    await channel.deleteQueue(t.queue)
    await channel.deleteQueue(t.deadLetterQueue)
    await channel.deleteExchange(t.exchange)
    await channel.deleteExchange(t.deadLetterExchange)
    await channel.close()
  } finally {
    await connection.close()
  }
}

/** Reads (and acks) every message now in a queue. */
export async function drainQueue (queue: string): Promise<amqplib.GetMessage[]> {
  const connection = await amqplib.connect(AMQP_URL)
  const out: amqplib.GetMessage[] = []
  try {
    const channel = await connection.createChannel()
    for (;;) {
      const msg = await channel.get(queue, { noAck: true })
      if (msg === false) break
      out.push(msg)
    }
    await channel.close()
  } finally {
    await connection.close()
  }
  return out
}
