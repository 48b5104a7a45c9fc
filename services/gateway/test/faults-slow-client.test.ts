/**
 * Fault injection: clients that stop reading under a burst of 20,000 events
 * (20 jobs of 1,000, published at 1,000 a second). On every job clients stop
 * reading, through the gateway and straight at the training service. Each is
 * cut (1013) and counted by the process that holds its backlog, both
 * processes' memory stays bounded, and the clients that do read get every
 * event once, in order. Their publish-to-receive latency is printed against
 * a control run (numbers to read, not assertions).
 */
import { readFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { compareStreamIds, type TrainingEvent } from '@training-live/events'
import { createPublisher } from '@training-live/events/publisher'
import {
  LiveClient, deleteKeys, deleteTopology, eventually, liveUrl, metricValue, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import { fullHistory, jobOf } from './helpers/faults.ts'

const JOBS = 20
const EVENTS_PER_JOB = 1000
const EVENTS = JOBS * EVENTS_PER_JOB
/** Extra data per event, so that each job's burst (about 9 MB per client) is well beyond what kernel socket buffers absorb. */
const PADDING = 'x'.repeat(8 * 1024)
/** Documented bounds (docs/reliability.md): growth of each process' RSS over its idle size during the burst, in MB. */
const RSS_GROWTH_BOUND_MB = { training: 384, gateway: 128 }
/** Clients that stop reading, per job and path: enough that keeping their backlog would cost over 1 GB. */
const SLOW_PER_JOB = 3
/** Publishing pace: the same in both runs, so that their latencies compare (the burst still lasts 20 s). */
const EVENTS_PER_SECOND = 1000
const PUBLISH_WINDOW = 100
const SLOW_CLIENT_TIMEOUT_MS = 2000

/** A reading client that keeps only what the checks need: ids, and the latency of each event. */
class CountingClient {
  readonly ids: string[] = []
  readonly latencies: number[] = []
  readonly closed: Promise<number>
  readonly socket: WebSocket
  snapshot = false

  constructor (url: string, sentAt: Map<string, number>) {
    const jobOfUrl = decodeURIComponent(new URL(url).pathname.split('/').at(-2) as string)
    this.socket = new WebSocket(url)
    this.socket.on('message', data => {
      const now = performance.now()
      const m = JSON.parse(data.toString()) as { id?: string, type: string, data?: { product_name?: string } }
      if (m.type === 'connected') { this.snapshot = true; return }
      if (m.id === undefined) return
      this.ids.push(m.id)
      const sent = sentAt.get(`${jobOfUrl}/${m.data?.product_name ?? m.type}`)
      if (sent !== undefined) this.latencies.push(now - sent)
    })
    this.closed = new Promise(resolve => this.socket.on('close', code => resolve(code)))
  }
}

/** A reading client that only counts frames. */
class FrameCounter {
  readonly socket: WebSocket
  readonly closed: Promise<number>
  frames = 0

  constructor (url: string) {
    this.socket = new WebSocket(url)
    this.socket.on('message', () => { this.frames++ })
    this.closed = new Promise(resolve => this.socket.on('close', code => resolve(code)))
  }
}

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

/** Samples the peak RSS of some processes until stopped. */
function sampleRss (pids: number[]): { stop: () => Promise<number[]> } {
  const peaks = pids.map(() => 0)
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      await Promise.all(pids.map(async (pid, i) => { peaks[i] = Math.max(peaks[i] as number, await rssMb(pid).catch(() => 0)) }))
      await sleep(50)
    }
  })()
  return { stop: async () => { state.running = false; await loop; return peaks } }
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

/** A ws client's TCP socket, to stop and restart reading. */
function tcpOf (client: LiveClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket
}

const topology = testTopology('faults-slow')
const started: ServiceProcess[] = []
const sockets: Array<{ socket: WebSocket }> = []
const publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
t.teardown(async () => {
  for (const c of sockets) c.socket.terminate()
  await publisher.close()
  await Promise.all(started.map(p => p.stop('SIGKILL')))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})
const training = await startService('training', { env: { ...topology.env, HISTORY_MAX_LENGTH: String(EVENTS_PER_JOB + 100) } })
started.push(training)
const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url, SLOW_CLIENT_TIMEOUT_MS: String(SLOW_CLIENT_TIMEOUT_MS) } })
started.push(gateway)
const services = [training, gateway]
const pids = services.map(s => s.child.pid as number)

interface BurstResult {
  /** Publish-to-receive latencies of the reading clients, sorted, by path. */
  latencies: Record<string, number[]>
  /** Peak RSS of each process during the burst. */
  peaks: number[]
}

/**
 * Publishes the burst over fresh jobs, each watched by a reader through the gateway and one direct,
 * and, with `slow`, by a client that stops reading each way; checks what every client got.
 */
async function burst (t: Test, withSlow: boolean): Promise<BurstResult> {
  const tenantId = uniqueId('tenant')
  const token = await mintToken({ tenantId })
  const jobIds = Array.from({ length: JOBS }, () => uniqueId('job'))
  const sentAt = new Map<string, number>()
  const readers = jobIds.flatMap(jobId => services.map(s => ({
    jobId, via: s.name, client: new CountingClient(liveUrl(s.wsUrl, tenantId, jobId, { token }), sentAt)
  })))
  const slow = withSlow
    ? jobIds.flatMap(jobId => services.flatMap(s => Array.from({ length: SLOW_PER_JOB }, () => ({
      jobId, via: s.name, client: new LiveClient(liveUrl(s.wsUrl, tenantId, jobId, { token }))
    }))))
    : []
  // The control has as many clients, reading (counting frames, not parsing them): the same work
  // for the services, but for clients that keep up.
  const extra = withSlow
    ? []
    : jobIds.flatMap(jobId => services.flatMap(s => Array.from({ length: SLOW_PER_JOB }, () => new FrameCounter(liveUrl(s.wsUrl, tenantId, jobId, { token })))))
  sockets.push(...readers.map(r => r.client), ...slow.map(s => s.client), ...extra)
  await eventually('every client has its snapshot', () => readers.every(r => r.client.snapshot) && slow.every(s => s.client.messages.length > 0))
  for (const s of slow) tcpOf(s.client).pause()
  const cutBefore = await Promise.all([
    metricValue(training, 'training_live_disconnects_total', 'reason="slow_client"'),
    metricValue(gateway, 'gateway_live_disconnects_total', 'reason="slow_client"')
  ])

  const sampler = sampleRss(pids)
  // Interleaved, as parallel jobs publish.
  const perJob = jobIds.map(jobId => jobOf(tenantId, jobId, EVENTS_PER_JOB - 3))
  const events: TrainingEvent[] = []
  for (let i = 0; i < EVENTS_PER_JOB; i++) {
    // Extra fields in data are allowed and forwarded.
    for (const job of perJob) events.push({ ...job[i], data: { ...job[i]?.data, padding: PADDING } } as unknown as TrainingEvent)
  }
  const publishStarted = performance.now()
  for (let i = 0; i < events.length; i += PUBLISH_WINDOW) {
    const due = publishStarted + i / EVENTS_PER_SECOND * 1000
    if (performance.now() < due) await sleep(due - performance.now())
    await Promise.all(events.slice(i, i + PUBLISH_WINDOW).map(e => {
      sentAt.set(`${e.job_id}/${e.type === 'training.product.completed' ? e.data.product_name : e.type.replace('training.', '')}`, performance.now())
      return publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
    }))
  }
  const publishSeconds = (performance.now() - publishStarted) / 1000
  const codes = await Promise.all(readers.map(r => r.client.closed))
  const deliveredSeconds = (performance.now() - publishStarted) / 1000
  const peaks = await sampler.stop()
  t.comment(`published ${EVENTS} events in ${publishSeconds.toFixed(1)} s; all delivered after ${deliveredSeconds.toFixed(1)} s`)

  const cutSince = async () => [
    await metricValue(training, 'training_live_disconnects_total', 'reason="slow_client"') - (cutBefore[0] as number),
    await metricValue(gateway, 'gateway_live_disconnects_total', 'reason="slow_client"') - (cutBefore[1] as number)
  ]
  const each = JOBS * SLOW_PER_JOB
  if (withSlow) {
    // A slow client whose backlog was still within the kernel's buffers when its job ended is cut
    // once its stall has lasted SLOW_CLIENT_TIMEOUT_MS: wait for the count rather than race it.
    await eventually('every slow client cut', async () => (await cutSince()).every(n => n >= each), 30_000).catch(() => {})
  }
  const cut = await cutSince()
  if (withSlow) {
    t.comment(`cut as slow: ${cut[0]} by the training service, ${cut[1]} by the gateway`)
    t.ok((cut[0] as number) >= each, `the training service cut each of the ${each} clients that stopped reading on it`)
    t.equal(cut[1], each, `the gateway cut each of the ${each} clients that stopped reading through it`)
    // Reading again, each slow client finds its socket closed after a part of its job's burst.
    for (const s of slow) tcpOf(s.client).resume()
    const slowCodes = await Promise.all(slow.map(s => s.client.closedPromise.then(c => c.code)))
    t.ok(slowCodes.every(code => code === 1013 || code === 1006), `every slow client was closed: ${[...new Set(slowCodes)].join(', ')} (1013, or 1006 when the close frame was still behind unread data)`)
    const slowGot = slow.map(s => s.client.events.length)
    t.ok(slowGot.every(n => n < EVENTS_PER_JOB), `each slow client got only part of its job's ${EVENTS_PER_JOB} events before it was cut (at most ${Math.max(...slowGot)})`)
  } else {
    t.same(cut, [0, 0], 'no client was cut as slow')
    const extraCodes = await Promise.all(extra.map(c => c.closed))
    t.ok(extraCodes.every(code => code === 1000) && extra.every(c => c.frames === EVENTS_PER_JOB + 1),
      `the ${extra.length} other reading clients each got the snapshot and all ${EVENTS_PER_JOB} events`)
  }

  // One job at a time: twenty 9 MB replays parsed at once by this test process could keep it from reading
  // for longer than the gateway's SLOW_CLIENT_TIMEOUT_MS on a loaded machine, and get the reader cut as slow.
  const histories = new Map<string, string[]>()
  for (const jobId of jobIds) histories.set(jobId, await fullHistory(gateway.wsUrl, tenantId, jobId))
  // Each read replays about 9 MB, far over the 1 MiB send-buffer bound: replay is paced by the reader, not cut.
  t.ok([...histories.values()].every(h => h.length === EVENTS_PER_JOB), `every job's history holds its ${EVENTS_PER_JOB} events, and replays whole`)
  const latencies: Record<string, number[]> = {}
  for (const via of ['gateway', 'training']) {
    const group = readers.filter(r => r.via === via)
    const label = `readers ${via === 'gateway' ? 'through the gateway' : 'direct'}`
    t.ok(group.every(r => codes[readers.indexOf(r)] === 1000), `${label}: each closed with 1000 at the end`)
    t.ok(group.every(r => r.client.ids.every((id, k) => k === 0 || compareStreamIds(id, r.client.ids[k - 1] as string) > 0)), `${label}: ids strictly increase`)
    t.ok(group.every(r => JSON.stringify(r.client.ids) === JSON.stringify(histories.get(r.jobId))), `${label}: each got exactly its job's history, all ${EVENTS_PER_JOB} events`)
    latencies[via] = group.flatMap(r => r.client.latencies).sort((a, b) => a - b)
  }
  return { latencies, peaks }
}

function describe (latencies: number[]): string {
  return `p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms (${latencies.length} deliveries)`
}

// Idle size, once started, after a moment to settle.
await sleep(500)
const idle = await Promise.all(pids.map(rssMb))
let withSlow: BurstResult

// First, on fresh processes, so that their RSS growth is the burst's alone.
t.test(`clients that stop reading under a burst of ${EVENTS} events are cut, memory stays bounded, the others get everything`, async t => {
  withSlow = await burst(t, true)
  for (const [i, name] of (['training', 'gateway'] as const).entries()) {
    const peak = withSlow.peaks[i] as number
    const growth = peak - (idle[i] as number)
    t.comment(`${name}: idle ${(idle[i] as number).toFixed(0)} MB, peak ${peak.toFixed(0)} MB during the burst`)
    t.ok(growth < RSS_GROWTH_BOUND_MB[name], `${name}: RSS peak ${growth.toFixed(0)} MB over idle, under the ${RSS_GROWTH_BOUND_MB[name]} MB bound`)
  }
})

t.test('control: the same burst with as many clients, all reading (latency to compare)', async t => {
  const control = await burst(t, false)
  for (const via of ['gateway', 'training']) {
    t.comment(`readers ${via === 'gateway' ? 'through the gateway' : 'direct'}: with slow clients ${describe(withSlow.latencies[via] as number[])}; ` +
      `control ${describe(control.latencies[via] as number[])}`)
  }
})
