import t, { type Test } from 'tap'
import { EventEmitter, once } from 'node:events'
import { RedisHealth, type PingableRedis } from '../src/redis-health.ts'

/** A client whose PINGs are answered (or not) when the test says so. */
class FakeRedis extends EventEmitter implements PingableRedis {
  status = 'ready'
  pings: Array<{ answer: () => void, fail: () => void }> = []
  ping (): Promise<unknown> {
    return new Promise((resolve, reject) => { this.pings.push({ answer: () => resolve('PONG'), fail: () => reject(new Error('down')) }) })
  }
}

async function healthyMonitor (t: Test, clients: FakeRedis[]): Promise<RedisHealth> {
  const health = new RedisHealth(clients, { intervalMs: 60_000, timeoutMs: 20 })
  t.teardown(() => health.stop())
  const up = once(health, 'change')
  const checked = health.check()
  clients[0]?.pings.shift()?.answer()
  await checked
  t.same(await up, [true], 'healthy once a PING is answered over ready connections')
  return health
}

t.test('a PING that misses its deadline makes Redis down; its late answer makes it up again', async t => {
  const redis = new FakeRedis()
  const health = await healthyMonitor(t, [redis])
  const down = once(health, 'change')
  const checked = health.check()
  t.same(await down, [false], 'down at the deadline, while the PING is still out')
  t.equal(health.healthy, false)
  void health.check()
  t.equal(redis.pings.length, 1, 'no second PING while one is out')
  const up = once(health, 'change')
  redis.pings.shift()?.answer()
  await checked
  t.same(await up, [true], 'up once the late PING is answered')
})

t.test('a closed connection makes Redis down at once; whenDown() resolves then', async t => {
  const commands = new FakeRedis()
  const subscriber = new FakeRedis()
  const health = await healthyMonitor(t, [commands, subscriber])
  const whenDown = health.whenDown()
  subscriber.status = 'reconnecting'
  subscriber.emit('close')
  await whenDown
  t.equal(health.healthy, false, 'down when any connection closes')
  await health.check()
  t.equal(commands.pings.length, 0, 'no PING while a connection is not ready')
  t.equal(health.healthy, false)
})

t.test('a failed PING makes Redis down', async t => {
  const redis = new FakeRedis()
  const health = await healthyMonitor(t, [redis])
  const checked = health.check()
  redis.pings.shift()?.fail()
  await checked
  t.equal(health.healthy, false)
  t.resolves(health.whenDown(), 'whenDown() resolves at once when down')
})
