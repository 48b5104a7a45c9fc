/**
 * Ingest benchmark: how fast one training process applies events from
 * RabbitMQ into Redis, with no live clients, against a bare amqplib
 * consumer that only acks the same events (same prefetch).
 *
 *   cd bench && pnpm bench:ingest                                   # 100,000 events over 1,000 jobs, then 20,000 events of one job
 *   cd bench && pnpm bench:ingest --events 100000 --jobs 1000       # one case
 *   cd bench && pnpm bench:ingest --jobs 1 --events 20000 --profile /tmp/prof
 *
 * Flags: --events K, --jobs J (one case; without either, the two default cases),
 * --prefetch N (AMQP_PREFETCH for both consumers; default: the service's own),
 * --order interleaved|sequential (how the jobs' events are mixed in the queue; default interleaved),
 * --kind products|progress (what fills a job between started and completed: product.completed events, each a
 * new product, or training.progress events; default products),
 * --profile DIR (run the training process with `node --cpu-prof`, profiles in DIR, and print its top
 * self-time functions over the samples taken while it consumed),
 * --node-options '…' (NODE_OPTIONS for the training process, e.g. '--max-semi-space-size=64'),
 * --no-baseline, --out DIR (default bench/results).
 *
 * Each case has its own exchange, queues and Redis prefix, all removed at the end, also on failure or Ctrl-C.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import amqplib from 'amqplib'
import type { TrainingEvent } from '@training-live/events'
import {
  AMQP_URL, deleteKeys, deleteTopology, jobEvents, metricValue, startService, testTopology, uniqueId,
  type ServiceProcess, type Topology
} from '@training-live/test-kit'
import { machine as machineInfo, procStats } from './machine.ts'

/** The training service's default AMQP_PREFETCH (services/training/src/config.ts). */
const SERVICE_DEFAULT_PREFETCH = 5000
const POLL_MS = 100
const CASE_TIMEOUT_MS = 15 * 60_000

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string' },
    jobs: { type: 'string' },
    prefetch: { type: 'string' },
    order: { type: 'string', default: 'interleaved' },
    kind: { type: 'string', default: 'products' },
    profile: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    out: { type: 'string', default: 'results' },
    'node-options': { type: 'string' }
  }
})

interface Case { events: number, jobs: number }

const cases: Case[] = flags.events === undefined && flags.jobs === undefined
  ? [{ events: 100_000, jobs: 1000 }, { events: 20_000, jobs: 1 }]
  : [{ events: Number(flags.events ?? 100_000), jobs: Number(flags.jobs ?? 1000) }]
const prefetch = Number(flags.prefetch ?? SERVICE_DEFAULT_PREFETCH)
const order = flags.order
if (order !== 'interleaved' && order !== 'sequential') throw new Error('--order is interleaved or sequential')
const kind = flags.kind
if (kind !== 'products' && kind !== 'progress') throw new Error('--kind is products or progress')
for (const c of cases) {
  if (!Number.isInteger(c.events) || !Number.isInteger(c.jobs) || c.jobs < 1 || c.events < 3 * c.jobs) {
    throw new Error(`--events must be an integer of at least 3 per job (${c.events} events, ${c.jobs} jobs)`)
  }
}
if (!Number.isInteger(prefetch) || prefetch < 1) throw new Error('--prefetch must be a positive integer')

// ---------------------------------------------------------------- cleanup, also on Ctrl-C

const cleanups: Array<() => Promise<unknown>> = []
async function cleanUp (): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop() as () => Promise<unknown>
    await step().catch((err: unknown) => console.error('cleanup step failed:', err))
  }
}
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`\n${signal}: cleaning up`)
    void cleanUp().finally(() => process.exit(130))
  })
}

// ---------------------------------------------------------------- events

/** K valid events over J jobs: each job started, data analysis, products, completed. */
function buildEvents (c: Case): TrainingEvent[] {
  const tenantId = uniqueId('bench_tenant')
  const perJob = Math.floor(c.events / c.jobs)
  const extra = c.events % c.jobs
  const jobs = Array.from({ length: c.jobs }, (_, j) => {
    const products = Array.from({ length: perJob - 3 + (j < extra ? 1 : 0) }, (_, i) => `product-${i}`)
    const events = jobEvents(tenantId, `bench_job_${j}`, products)
    if (kind === 'products') return events
    // The same job with a progress event in place of each product.
    return events.map((e): TrainingEvent => e.type === 'training.product.completed'
      ? { ...e, type: 'training.progress', data: { step: e.data.current_step as string, progress: 50 } }
      : e)
  })
  if (order === 'sequential') return jobs.flat()
  // Round-robin over the jobs, each job's events in its own order: many workers publishing at once.
  const out: TrainingEvent[] = []
  const longest = Math.max(...jobs.map(j => j.length))
  for (let i = 0; i < longest; i++) {
    for (const job of jobs) {
      const event = job[i]
      if (event !== undefined) out.push(event)
    }
  }
  return out
}

/** The queue exactly as the training service declares it (services/training/src/event-consumer.ts). */
async function declare (channel: amqplib.Channel, t: Topology, queues: string[]): Promise<void> {
  await channel.assertExchange(t.exchange, 'topic', { durable: true })
  await channel.assertExchange(t.deadLetterExchange, 'fanout', { durable: true })
  await channel.assertQueue(t.deadLetterQueue, { durable: true })
  await channel.bindQueue(t.deadLetterQueue, t.deadLetterExchange, '')
  for (const queue of queues) {
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-single-active-consumer': true, 'x-dead-letter-exchange': t.deadLetterExchange }
    })
    await channel.bindQueue(queue, t.exchange, 'training.#')
  }
}

async function publishAll (t: Topology, events: TrainingEvent[]): Promise<void> {
  const connection = await amqplib.connect(AMQP_URL, { noDelay: true })
  try {
    const channel = await connection.createConfirmChannel()
    for (let i = 0; i < events.length; i += 2000) {
      for (const e of events.slice(i, i + 2000)) {
        channel.publish(t.exchange, e.type, Buffer.from(JSON.stringify(e)), {
          contentType: 'application/json', persistent: true, messageId: e.event_id
        })
      }
      await channel.waitForConfirms()
    }
    await channel.close()
  } finally {
    await connection.close()
  }
}

// ---------------------------------------------------------------- measuring

interface Run {
  eventsPerSecond: number
  seconds: number
  /** CPU seconds (user + system) of the consuming process while it consumed. */
  cpuSeconds: number
  /** Peak resident set size of the consuming process, in MB (VmHWM). */
  peakRssMb?: number
  /** Events/s over each quarter of the events (shows whether it slows down as jobs grow). */
  quarters?: number[]
}

/** A bare consumer in this process: takes each message and acks it, nothing else. */
async function baseline (queue: string, count: number): Promise<Run> {
  const connection = await amqplib.connect(AMQP_URL, { noDelay: true })
  try {
    const channel = await connection.createChannel()
    await channel.prefetch(prefetch)
    let seen = 0
    let first = 0
    let cpu = process.cpuUsage()
    const done = new Promise<number>(resolve => {
      void channel.consume(queue, msg => {
        if (msg === null) return
        if (seen === 0) { first = performance.now(); cpu = process.cpuUsage() }
        channel.ack(msg)
        if (++seen === count) resolve(performance.now())
      })
    })
    const end = await Promise.race([done, sleep(CASE_TIMEOUT_MS).then(() => { throw new Error(`baseline: ${seen} of ${count} in time`) })])
    const used = process.cpuUsage(cpu)
    await channel.close()
    const seconds = (end - first) / 1000
    return { eventsPerSecond: (count - 1) / seconds, seconds, cpuSeconds: (used.user + used.system) / 1e6 }
  } finally {
    await connection.close()
  }
}

function peakRssMbOf (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
  return kb / 1024
}

/** Polls the training process' applied counter until it reaches `count`. */
async function measureService (service: ServiceProcess, count: number): Promise<Run & { window: [number, number] }> {
  const pid = service.child.pid as number
  // `at` for rates (ms); `mono`, the machine's monotonic clock in µs, as CPU profiles count time.
  const samples: Array<{ at: number, mono: number, applied: number }> = []
  let cpuAtFirst = 0
  const deadline = Date.now() + CASE_TIMEOUT_MS
  for (;;) {
    const applied = await metricValue(service, 'training_events_total', 'outcome="applied"')
    const at = performance.now()
    const mono = Number(process.hrtime.bigint() / 1000n)
    if (samples.length === 0 || applied > (samples.at(-1) as { applied: number }).applied) {
      if (samples.length === 0) cpuAtFirst = procStats(pid).cpuSeconds
      samples.push({ at, mono, applied })
    }
    if (applied >= count) break
    if (Date.now() > deadline) throw new Error(`training applied ${applied} of ${count} in time`)
    if (service.child.exitCode !== null) throw new Error(`training exited:\n${service.output()}`)
    await sleep(POLL_MS)
  }
  const cpuSeconds = procStats(pid).cpuSeconds - cpuAtFirst
  const peakRssMb = peakRssMbOf(pid)
  // From the first sample that saw events applied (the consumer was running) to the last.
  const from = samples.find(s => s.applied > 0) as { at: number, mono: number, applied: number }
  const to = samples.at(-1) as { at: number, mono: number, applied: number }
  const seconds = (to.at - from.at) / 1000
  const quarters = [1, 2, 3, 4].map(q => {
    const start = samples.find(s => s.applied >= count * (q - 1) / 4) ?? from
    const end = samples.find(s => s.applied >= count * q / 4) ?? to
    return (end.applied - start.applied) / Math.max(1e-3, (end.at - start.at) / 1000)
  })
  return {
    eventsPerSecond: (to.applied - from.applied) / seconds,
    seconds,
    cpuSeconds,
    peakRssMb,
    quarters,
    window: [from.mono, to.mono]
  }
}

// ---------------------------------------------------------------- profile summary

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number } }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** Self time per function (name + file), in ms, highest first. */
export function summarizeProfile (profile: CpuProfile, top = 15): Array<{ fn: string, ms: number, share: number }> {
  const byNode = new Map<number, string>()
  for (const n of profile.nodes) {
    const file = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^.*?\/(services|packages|bench)\//, '$1/')
    byNode.set(n.id, `${n.callFrame.functionName || '(anonymous)'} ${file}`.trim())
  }
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0
    const fn = byNode.get(id) ?? '?'
    self.set(fn, (self.get(fn) ?? 0) + us)
    total += us
  })
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), share: Math.round(us / total * 1000) / 10 }))
}

/** The main thread's profile of a run: `--cpu-prof` also writes one for tsx's module-loader thread, with few samples. */
function mainProfile (dir: string, since: number): { file: string, profile: CpuProfile } | null {
  let best: { file: string, profile: CpuProfile } | null = null
  for (const name of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
    const file = join(dir, name)
    if (statSync(file).mtimeMs < since) continue
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
    if (best === null || profile.samples.length > best.profile.samples.length) best = { file, profile }
  }
  return best
}

// ---------------------------------------------------------------- one case

interface CaseResult extends Case {
  order: string
  kind: string
  prefetch: number
  training: Run
  baseline?: Run
  ratio?: number
  profile?: { file: string, top: Array<{ fn: string, ms: number, share: number }> }
}

async function runCase (c: Case): Promise<CaseResult> {
  const topology = testTopology('ingest')
  const baselineQueue = `${topology.queue}.baseline`
  const prefix = topology.env.REDIS_KEY_PREFIX as string
  cleanups.push(() => deleteTopology(topology))
  cleanups.push(() => deleteKeys(prefix))
  cleanups.push(async () => {
    const connection = await amqplib.connect(AMQP_URL)
    try { await (await connection.createChannel()).deleteQueue(baselineQueue) } finally { await connection.close() }
  })

  const events = buildEvents(c)
  const setup = await amqplib.connect(AMQP_URL)
  try {
    const channel = await setup.createChannel()
    await declare(channel, topology, flags['no-baseline'] ? [topology.queue] : [topology.queue, baselineQueue])
    await channel.close()
  } finally {
    await setup.close()
  }
  console.log(`case: ${c.events} events over ${c.jobs} job(s), ${order}, ${kind}, prefetch ${prefetch}: publishing…`)
  await publishAll(topology, events)

  let baselineRun: Run | undefined
  if (!flags['no-baseline']) {
    baselineRun = await baseline(baselineQueue, events.length)
    console.log(`  bare consumer: ${Math.round(baselineRun.eventsPerSecond)} events/s`)
  }

  const env: Record<string, string> = { ...topology.env, LOG_LEVEL: 'warn', AMQP_PREFETCH: String(prefetch) }
  if (flags['node-options'] !== undefined) env.NODE_OPTIONS = flags['node-options']
  const profileDir = flags.profile === undefined ? undefined : resolve(flags.profile)
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })
  const startedAt = Date.now()
  const training = await startService('training', {
    env,
    execArgv: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  })
  cleanups.push(() => training.stop('SIGKILL'))
  const run = await measureService(training, events.length)
  const { window, ...trainingRun } = run
  console.log(`  training:      ${Math.round(run.eventsPerSecond)} events/s`)
  const dead = await metricValue(training, 'training_events_total', 'outcome="dead_lettered"')
  if (dead > 0) throw new Error(`${dead} events were dead-lettered`)
  await training.stop('SIGTERM')

  const result: CaseResult = { ...c, order, kind, prefetch, training: trainingRun }
  if (baselineRun !== undefined) {
    result.baseline = baselineRun
    result.ratio = run.eventsPerSecond / baselineRun.eventsPerSecond
  }
  if (profileDir !== undefined) {
    const found = mainProfile(profileDir, startedAt)
    if (found !== null) {
      const { file, profile } = found
      // Only the samples taken while events were applied (both clocks are the machine's monotonic clock in µs).
      const kept = windowed(profile, window[0], window[1])
      result.profile = { file, top: summarizeProfile(kept.samples.length > 0 ? kept : profile) }
    }
  }
  await cleanUp()
  return result
}

/** The part of a profile whose samples fall between two monotonic times (µs). */
function windowed (profile: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  const samples: number[] = []
  const timeDeltas: number[] = [0]
  let t = profile.startTime
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0
    const next = profile.timeDeltas[i + 1] ?? 0
    if (t >= fromUs && t <= toUs) { samples.push(id); timeDeltas.push(next) }
  })
  return { ...profile, samples, timeDeltas }
}

// ---------------------------------------------------------------- report

function table (results: CaseResult[]): string {
  const rows = [
    ['case', 'training events/s', 'bare consumer events/s', 'ratio', 'training CPU s', 'CPU µs/event', 'peak RSS MB', 'events/s by quarter']
  ]
  for (const r of results) {
    rows.push([
      `${r.events} events / ${r.jobs} job${r.jobs === 1 ? '' : 's'}`,
      String(Math.round(r.training.eventsPerSecond)),
      r.baseline === undefined ? '-' : String(Math.round(r.baseline.eventsPerSecond)),
      r.ratio === undefined ? '-' : r.ratio.toFixed(2),
      r.training.cpuSeconds.toFixed(2),
      String(Math.round(r.training.cpuSeconds / r.events * 1e6)),
      (r.training.peakRssMb ?? 0).toFixed(0),
      (r.training.quarters ?? []).map(q => Math.round(q)).join(' / ')
    ])
  }
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(rows[0] as string[]), line((rows[0] as string[]).map(() => '---')), ...rows.slice(1).map(line)].join('\n')
}

const argv = process.argv.slice(2)
const command = `cd bench && pnpm bench:ingest${argv.length > 0 ? ' ' + argv.join(' ') : ''}`
const machine = machineInfo()

const results: CaseResult[] = []
try {
  for (const c of cases) results.push(await runCase(c))
} finally {
  await cleanUp()
}

const md = [
  `# Ingest benchmark, ${new Date().toISOString()}`,
  '',
  `\`${command}\``,
  '',
  `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.os}.`,
  `Events in the queue before the consumer starts; ${order} jobs of ${kind === 'products' ? 'product.completed events (each a new product)' : 'progress events'}; prefetch ${prefetch}; no live clients.`,
  'CPU and peak RSS are the training process\' (CPU while it consumed; RSS peak over its life).',
  '',
  table(results),
  ...results.flatMap(r => r.profile === undefined
    ? []
    : ['', `Top self time, ${r.events} events / ${r.jobs} jobs (${r.profile.file}):`, '',
        '| ms | % | function |', '| --- | --- | --- |', ...r.profile.top.map(p => `| ${p.ms} | ${p.share} | \`${p.fn}\` |`)])
].join('\n') + '\n'

console.log('\n' + md)
const outDir = resolve(flags.out)
mkdirSync(outDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
writeFileSync(join(outDir, `ingest-${stamp}.json`), JSON.stringify({ command, machine, results }, null, 2) + '\n')
writeFileSync(join(outDir, `ingest-${stamp}.md`), md)
console.log(`written: ${join(outDir, `ingest-${stamp}.{json,md}`)}`)
process.exit(0)
