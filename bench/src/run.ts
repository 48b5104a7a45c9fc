/**
 * `pnpm bench`: the fan-out benchmark. For each scenario it starts the
 * processes under test fresh (a bare ws broadcast server, the training
 * service alone, or the training service behind gateways), opens N client
 * WebSockets over J jobs from forked load-generator workers, publishes events
 * at a rate (or as a burst), and records every delivery's publish-to-receive
 * latency in an HDR histogram, delivered versus expected, connect time, and
 * each process' RSS and CPU seconds. Results go to bench/results/ as JSON and
 * markdown, with the machine and the command.
 *
 *   pnpm bench                       # the default set (about 8 minutes)
 *   pnpm bench --duration 20         # shorter steady runs
 *   pnpm bench --only gateway-100x100,bare-100x100
 *   pnpm bench --curve               # 1k, 10k, 25k, 50k clients through gateways (bare where one process can hold them)
 *   pnpm bench --scale               # 50k clients over 1,000 jobs x 50 through 4 gateways, 100 events/s
 *   pnpm bench --profile /tmp/prof   # and a .cpuprofile per service process (summarize: pnpm bench:profile /tmp/prof)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { merge, percentiles, type Percentiles } from './histogram.ts'
import { machine, procStats, type Machine } from './machine.ts'
import type { FromWorker, ToWorker } from './protocol.ts'
import { makeJobs, startStack, type Stack, type Target } from './stack.ts'
import { report } from './report.ts'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '60' },
    burst: { type: 'string', default: '1000' },
    gateways: { type: 'string', default: '2' },
    only: { type: 'string' },
    curve: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    /** Write a CPU profile of each service process into this folder (see profile.ts). */
    profile: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('../results/', import.meta.url)) }
  }
})

export interface Scenario {
  name: string
  target: Target
  clients: number
  jobs: number
  gateways: number
  mode: 'steady' | 'burst'
  /** Events per second (steady) and seconds (steady). */
  rate: number
  duration: number
  /** Events published at once (burst). */
  events: number
}

export interface ScenarioResult {
  scenario: Scenario
  connect: { connected: number, failed: number, errors: Record<string, number>, seconds: number, perClient: Percentiles }
  published: number
  expected: number
  delivered: number
  /** Burst: deliveries per second from the first publish to the last delivery. */
  deliveriesPerSecond: number
  latency: Percentiles
  /** Per measured process (and the load generator): RSS idle, connected and at the end; CPU seconds while publishing. */
  processes: Array<{ name: string, rssIdleMB: number, rssConnectedMB: number, rssEndMB: number, cpuSeconds: number }>
  /** Client sessions the training service holds over gateways' links once connected (training_link_sessions). */
  linkSessions: number
  /**
   * (RSS connected - RSS idle) per client, per kind of process, in KB: a gateway's over its client sockets,
   * the training service's over the sessions it holds (over links, or as sockets when direct).
   */
  kbPerConnection: Record<string, number>
  unexpectedCloses: number
  /** The seconds (from the start of publishing) whose messages waited longest, worst first: where the tail comes from. */
  worstSeconds: Array<{ second: number, maxMs: number }>
}

const clients = Number(args.clients)
const gateways = Number(args.gateways)
const steady = (target: Target, jobs: number, n = clients, over: Partial<Scenario> = {}): Scenario => ({
  name: `${target}-${jobs}x${n / jobs}${n === clients ? '' : `-${n}`}`, target, clients: n, jobs, gateways, mode: 'steady', rate: Number(args.rate), duration: Number(args.duration), events: 0, ...over
})
const burst = (target: Target, jobs: number): Scenario => ({
  name: `${target}-burst-${jobs}x${clients / jobs}`, target, clients, jobs, gateways, mode: 'burst', rate: 0, duration: 0, events: Number(args.burst)
})

/** Client sockets per gateway in the curve and scale runs: well under the per-process open-file limit. */
const CLIENTS_PER_GATEWAY = 12_500
/** The bare server is one process: past this many sockets it runs into the open-file limit. */
const BARE_MAX_CLIENTS = 18_000
const gatewaysFor = (n: number) => Math.max(2, Math.ceil(n / CLIENTS_PER_GATEWAY))

function scenarios (): Scenario[] {
  const all = args.curve
    // 100 watchers per job at the same rate: the same deliveries per second at every size, so only the connections grow.
    ? [1000, 10_000, 25_000, 50_000].flatMap(n => [
        ...(n <= BARE_MAX_CLIENTS ? [steady('bare', n / 100, n)] : []),
        steady('gateway', n / 100, n, { gateways: gatewaysFor(n) })
      ])
    : args.scale
      ? [steady('gateway', 1000, 50_000, { gateways: gatewaysFor(50_000), rate: 100 })]
      : defaults()
  if (args.only === undefined) return all
  const wanted = new Set(args.only.split(','))
  return all.filter(s => wanted.has(s.name))
}

function defaults (): Scenario[] {
  return [
    steady('bare', 100), steady('direct', 100), steady('gateway', 100),
    steady('bare', 1000), steady('gateway', 1000),
    burst('bare', 100), burst('gateway', 100)
  ]
}

class Worker {
  readonly child: ChildProcess
  readonly #waiting = new Map<string, (m: FromWorker) => void>()

  constructor () {
    this.child = fork(fileURLToPath(new URL('./loadgen.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
    this.child.on('message', (m: FromWorker) => {
      const w = this.#waiting.get(m.type)
      this.#waiting.delete(m.type)
      w?.(m)
    })
  }

  ask<T extends FromWorker['type']> (message: ToWorker, reply: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise(resolve => {
      this.#waiting.set(reply, m => resolve(m as Extract<FromWorker, { type: T }>))
      this.child.send(message)
    })
  }

  stop (): void {
    this.child.kill('SIGKILL')
  }
}

/** At most this many sockets per worker: the open-file limit is per process. */
const CLIENTS_PER_WORKER = 9000

function rssMB (pid: number): number {
  try { return procStats(pid).rssBytes / 2 ** 20 } catch { return 0 }
}

async function runScenario (s: Scenario): Promise<ScenarioResult> {
  const runId = randomUUID().slice(0, 8)
  const jobs = await makeJobs(s.jobs, runId)
  const stack: Stack = await startStack(s.target, jobs, s.gateways, args.profile === undefined ? undefined : `${args.profile}/${s.name}`)
  const workers = Array.from({ length: Math.ceil(s.clients / CLIENTS_PER_WORKER) }, () => new Worker())
  try {
    await stack.prepare()
    await sleep(1000)
    const idle = stack.measured.map(p => rssMB(p.pid))

    // Connect: client i watches job i % J; worker w opens every W-th client.
    const connectStarted = performance.now()
    const connected = await Promise.all(workers.map((w, k) => {
      const urls: string[] = []
      for (let i = k; i < s.clients; i += workers.length) urls.push(stack.urlFor(i))
      return w.ask({ type: 'connect', urls, headers: {} }, 'connected')
    }))
    const connectSeconds = (performance.now() - connectStarted) / 1000
    const connectTimes = merge(connected.map(c => c.connectTimes))
    const errors: Record<string, number> = {}
    for (const c of connected) for (const [e, n] of Object.entries(c.errors)) errors[e] = (errors[e] ?? 0) + n
    const connectedCount = connected.reduce((a, c) => a + c.connected, 0)
    console.log(`  ${connectedCount} of ${s.clients} connected in ${connectSeconds.toFixed(1)} s${Object.keys(errors).length > 0 ? `; failures: ${JSON.stringify(errors)}` : ''}`)
    const rssConnected = await settledRss(stack.measured.map(p => p.pid))
    const linkSessions = await stack.sessions()

    // Watchers per job, for the expected deliveries.
    const watchers = new Array<number>(s.jobs).fill(0)
    for (let i = 0; i < s.clients; i++) watchers[i % s.jobs] = (watchers[i % s.jobs] as number) + 1

    const resets = await Promise.all(workers.map(w => w.ask({ type: 'reset' }, 'reset')))
    const cpuBefore = stack.measured.map(p => procStats(p.pid).cpuSeconds)
    const count = { published: 0, expected: 0, failures: 0 }
    const sent: Array<Promise<void> | void> = []
    const publishOne = (seq: number) => {
      const job = seq % s.jobs
      count.expected += watchers[job] as number
      count.published++
      const result = stack.send(job, seq, performance.timeOrigin + performance.now())
      if (result instanceof Promise) sent.push(result.catch(() => { count.failures++ }))
    }
    const started = performance.now()
    if (s.mode === 'steady') {
      // Paced: every 5 ms, publish what the rate allows by now.
      const total = s.rate * s.duration
      while (count.published < total) {
        const due = Math.min(total, Math.floor((performance.now() - started) / 1000 * s.rate))
        for (let seq = count.published; seq < due; seq++) publishOne(seq)
        await sleep(5)
      }
    } else {
      for (let seq = 0; seq < s.events; seq++) publishOne(seq)
    }
    await Promise.all(sent)
    // Wait for the deliveries to arrive (or stop arriving).
    let delivered = 0
    let lastChange = performance.now()
    let reports = await Promise.all(workers.map(w => w.ask({ type: 'report' }, 'report')))
    let lastDelivery = performance.now()
    for (;;) {
      const now = reports.reduce((a, r) => a + r.received, 0)
      if (now !== delivered) { delivered = now; lastChange = performance.now(); lastDelivery = lastChange }
      if (delivered >= count.expected || performance.now() - lastChange > 10_000) break
      await sleep(20)
      reports = await Promise.all(workers.map(w => w.ask({ type: 'report' }, 'report')))
    }
    const elapsed = (lastDelivery - started) / 1000
    const cpuAfter = stack.measured.map(p => procStats(p.pid).cpuSeconds)
    const latency = percentiles(merge(reports.map(r => r.latency)))
    if (count.failures > 0) console.log(`  ${count.failures} publishes failed`)

    const processes = stack.measured.map((p, i) => ({
      name: p.name,
      rssIdleMB: round(idle[i] as number),
      rssConnectedMB: round(rssConnected[i] as number),
      rssEndMB: round(rssMB(p.pid)),
      cpuSeconds: round((cpuAfter[i] as number) - (cpuBefore[i] as number))
    }))
    processes.push({
      name: 'load generator',
      rssIdleMB: 0,
      rssConnectedMB: round(reports.reduce((a, r) => a + r.rssBytes, 0) / 2 ** 20),
      rssEndMB: round(reports.reduce((a, r) => a + r.rssBytes, 0) / 2 ** 20),
      cpuSeconds: round(reports.reduce((a, r) => a + r.cpuSeconds, 0) - resets.reduce((a, r) => a + r.cpuSeconds, 0))
    })
    // Through gateways the training service holds sessions on a few links, not sockets: divide by its sessions.
    // Gateways: the sum of their deltas over all clients is the mean per client socket.
    const kbPerConnection: Record<string, number> = {}
    for (const [i, p] of stack.measured.entries()) {
      const kind = p.name.replace(/ \d+$/, '')
      const per = kind === 'training' && s.target === 'gateway' ? linkSessions : connectedCount
      kbPerConnection[kind] = (kbPerConnection[kind] ?? 0) + ((rssConnected[i] as number) - (idle[i] as number)) * 1024 / per
    }
    for (const kind of Object.keys(kbPerConnection)) kbPerConnection[kind] = round(kbPerConnection[kind] as number)

    return {
      scenario: s,
      connect: { connected: connectedCount, failed: s.clients - connectedCount, errors, seconds: round(connectSeconds), perClient: percentiles(connectTimes) },
      published: count.published,
      expected: count.expected,
      delivered,
      deliveriesPerSecond: Math.round(delivered / elapsed),
      latency,
      processes,
      linkSessions,
      kbPerConnection,
      unexpectedCloses: reports.reduce((a, r) => a + r.unexpectedCloses, 0),
      worstSeconds: worstSeconds(reports.map(r => r.worstBySecond))
    }
  } finally {
    await Promise.all(workers.map(w => w.ask({ type: 'close' }, 'closed')))
    for (const w of workers) w.stop()
    await stack.stop()
  }
}

/**
 * RSS once it stops falling: right after the handshakes, the heap still holds their garbage, which
 * V8's memory reducer returns within seconds of going quiet. Samples every second, for at most 20 s,
 * until the total has not fallen by 1 % over 4 s.
 */
async function settledRss (pids: number[]): Promise<number[]> {
  const samples: number[][] = []
  const total = (x: number[]) => x.reduce((a, b) => a + b, 0)
  for (let i = 0; i < 20; i++) {
    await sleep(1000)
    samples.push(pids.map(rssMB))
    const back = samples[samples.length - 5]
    if (back !== undefined && total(samples.at(-1) as number[]) > 0.99 * total(back)) break
  }
  return samples.at(-1) as number[]
}

function worstSeconds (perWorker: Array<Record<string, number>>): Array<{ second: number, maxMs: number }> {
  const worst = new Map<number, number>()
  for (const w of perWorker) for (const [second, ms] of Object.entries(w)) worst.set(Number(second), Math.max(worst.get(Number(second)) ?? 0, ms))
  return [...worst].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([second, ms]) => ({ second, maxMs: round(ms) }))
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}

async function main (): Promise<void> {
  const m: Machine = machine()
  const command = `pnpm bench ${process.argv.slice(2).join(' ')}`.trim()
  console.log(`${command}: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, open files ${m.openFileLimit}`)
  const results: ScenarioResult[] = []
  for (const s of scenarios()) {
    console.log(`${s.name}: ${s.clients} clients over ${s.jobs} jobs${s.target === 'gateway' ? ` through ${s.gateways} gateways` : ''}, ` +
      (s.mode === 'steady' ? `${s.rate} events/s for ${s.duration} s` : `burst of ${s.events} events`))
    const r = await runScenario(s)
    results.push(r)
    console.log(`  delivered ${r.delivered} of ${r.expected}; latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms` +
      (s.mode === 'burst' ? `; ${r.deliveriesPerSecond} deliveries/s` : `; worst seconds ${r.worstSeconds.map(w => `${w.second}s:${w.maxMs}ms`).join(' ')}`))
  }
  const when = new Date().toISOString()
  const markdown = report({ when, command, machine: m, results })
  await mkdir(args.out, { recursive: true })
  const base = `${args.out}/${args.curve ? 'curve' : args.scale ? 'scale' : 'fanout'}-${when.replace(/[:.]/g, '-')}`
  await writeFile(`${base}.json`, JSON.stringify({ when, command, machine: m, results }, null, 2) + '\n')
  await writeFile(`${base}.md`, markdown)
  console.log(`\n${markdown}\nwritten: ${base}.json, ${base}.md`)
}

await main()
process.exit(0)
