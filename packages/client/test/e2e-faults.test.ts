/**
 * The SDK against real processes: two training replicas behind two
 * gateways. Mid-job, the replica the watch is connected through is killed
 * (kill -9) and started again, then so is the gateway it uses. The watch
 * ends with every live event exactly once, in order, at 100 % completed.
 */
import t from 'tap'
import { compareStreamIds } from '@training-live/events'
import { jobEvents, metricValue, uniqueId, within } from '@training-live/test-kit'
import { historyIds, publishJob, recordWatch, startStack, until } from './helpers/stack.ts'

const PRODUCTS = 80
const PACE_MS = 20

t.test('kill -9 the replica, then the gateway, the watch goes through; both started again: every event once, in order', async t => {
  const s = await startStack(t, 'client-faults', { replicas: 2, gateways: 2 })
  const [gateway, other] = s.gateways as [typeof s.gateways[0], typeof s.gateways[0]]
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const r = recordWatch({ baseUrl: gateway.wsUrl, tenantId, jobId })
  t.teardown(() => r.watch.close())
  await until('the first snapshot', () => r.snapshots === 1)

  const events = jobEvents(tenantId, jobId, Array.from({ length: PRODUCTS }, (_, i) => `product-${i}`))
  // The job in four parts; each fault strikes while a part is being published.
  const part = async (from: number, to: number): Promise<void> => await publishJob(s.publisher, events.slice(from, to), PACE_MS)
  const received = async (n: number): Promise<void> => await until(`${n} live events`, () => r.ids.length >= n)

  await part(0, 20)
  await received(20)
  const sockets = await Promise.all(s.replicas.map(async replica => await metricValue(replica, 'training_live_connections')))
  const through = s.replicas[sockets.indexOf(1)]
  t.ok(through !== undefined, `the watch is on one replica (live connections: ${sockets.join(', ')})`)
  if (through === undefined) return
  const second = part(20, 40)
  await through.stop('SIGKILL')
  await second
  await received(40)
  t.match(r.retries[0], { reason: { kind: 'close', code: 1011 } }, 'the gateway closed it with 1011, and it resumed through the other replica')
  await s.restart(through)

  const third = part(40, 60)
  await gateway.stop('SIGKILL')
  await third
  await until('a failed attempt while the gateway is down', () => r.retries.some(i => i.reason.kind === 'unreachable'))
  await s.restart(gateway)
  await received(60)

  await part(60, events.length)
  const view = await within(r.watch.done, 60_000, 'the job\'s end')
  t.match(view, { status: 'completed', progress: 100, products_completed: PRODUCTS, total_products: PRODUCTS })

  const history = await historyIds(other, tenantId, jobId)
  t.equal(history.length, events.length, 'the history holds every published event')
  t.strictSame(r.ids, history, 'the watch handed on exactly the job\'s history, in order')
  t.ok(r.ids.every((id, i) => i === 0 || compareStreamIds(id, r.ids[i - 1] as string) > 0), 'ids strictly increase')
  t.equal(view.last_id, history.at(-1))
  const lost = r.retries.find(i => i.reason.kind === 'close' && i.reason.code === 1006)
  t.ok(lost !== undefined, 'the gateway\'s death was a close 1006')
  t.ok(r.tokens() >= 3, `getToken was called for every connection (${r.tokens()} times)`)
  t.comment(`retries: ${r.retries.map(i => `${i.reason.kind}${'code' in i.reason ? ` ${i.reason.code}` : ''} after ${i.delayMs} ms`).join('; ')}`)
})
