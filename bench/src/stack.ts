/**
 * The processes under test for one scenario: a bare ws server, or the real
 * stack (one training replica, and gateways in front of it), each started
 * fresh, so that its memory and CPU are the scenario's own.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  deleteKeys, deleteTopology, freePort, liveUrl, metricValue, mintToken, reapOnExit, startService, testTopology,
  type ServiceProcess, type Topology
} from '@training-live/test-kit'

export type Target = 'bare' | 'direct' | 'gateway'

export interface Job { tenantId: string, jobId: string, token: string }

/** A process the bench measures. */
export interface Measured { name: string, pid: number }

/** Sends one live message for a job, stamped with `sent_at` in its data. */
export type Send = (job: number, seq: number, sentAt: number) => Promise<void> | void

export interface Stack {
  measured: Measured[]
  /** The URL client `i` connects to. */
  urlFor: (i: number) => string
  /** Publishes one event (or message, for the bare server) to job `job`. */
  send: Send
  /** Waits until the stack is ready to carry events for every job. */
  prepare: () => Promise<void>
  /** Client sessions the training service holds over links (0 without gateways). */
  sessions: () => Promise<number>
  stop: () => Promise<void>
}

const LIMITS = { MAX_CONNECTIONS: '200000', MAX_CONNECTIONS_PER_TENANT: '200000', LOG_LEVEL: 'warn' }
const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url))

/** Jobs of a run: one tenant each (so per-tenant limits never interfere), with a token. */
export async function makeJobs (count: number, runId: string): Promise<Job[]> {
  return Promise.all(Array.from({ length: count }, async (_, j) => {
    const tenantId = `bench_${runId}_t${j}`
    return { tenantId, jobId: `job_${j}`, token: await mintToken({ tenantId, expiresIn: 3600 }) }
  }))
}

/** A live message of the same shape and size as the training service's. */
function bareMessage (job: Job, seq: number, sentAt: number): string {
  return JSON.stringify({
    id: `${Date.now()}-${seq}`,
    type: 'product_completed',
    job_id: job.jobId,
    tenant_id: job.tenantId,
    timestamp: new Date().toISOString(),
    progress: 20,
    data: { product_name: `p${seq}`, total_products: 1_000_000, sent_at: sentAt, status: 'running', products_completed: seq, current_step: null }
  })
}

async function startBare (jobs: Job[]): Promise<Stack> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/bare-server.ts'], {
    cwd: BENCH_DIR, env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit']
  })
  reapOnExit(child)
  await once(child.stdout as NodeJS.ReadableStream, 'data')
  const control = new WebSocket(`ws://127.0.0.1:${port}/publish`, { perMessageDeflate: false })
  await once(control, 'open')
  return {
    measured: [{ name: 'bare ws server', pid: child.pid as number }],
    urlFor: i => `ws://127.0.0.1:${port}/jobs/${i % jobs.length}`,
    send: (job, seq, sentAt) => { control.send(`${job}\n${bareMessage(jobs[job] as Job, seq, sentAt)}`) },
    prepare: async () => {},
    sessions: async () => 0,
    stop: async () => {
      control.terminate()
      child.kill('SIGKILL')
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
    }
  }
}

async function startReal (jobs: Job[], gateways: number, profileDir?: string): Promise<Stack> {
  // With a profile, each service writes a .cpuprofile when it exits (so it is stopped with SIGTERM).
  const execArgv = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const topology: Topology = testTopology('bench')
  const started: ServiceProcess[] = []
  let publisher: Publisher | undefined
  const stop = async () => {
    await publisher?.close()
    await Promise.all(started.map(p => p.stop(profileDir === undefined ? 'SIGKILL' : 'SIGTERM')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  }
  try {
    const training = await startService('training', { env: { ...topology.env, ...LIMITS }, execArgv })
    started.push(training)
    const fronts: ServiceProcess[] = []
    for (let g = 0; g < gateways; g++) {
      const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url, ...LIMITS }, execArgv })
      started.push(gateway)
      fronts.push(gateway)
    }
    publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
    const p = publisher
    const event = (job: Job, type: string, data: Record<string, unknown>) => JSON.stringify({
      event_id: `${job.tenantId}-${type}-${String(data.product_name ?? '')}`,
      type,
      tenant_id: job.tenantId,
      job_id: job.jobId,
      timestamp: new Date().toISOString(),
      data
    })
    return {
      measured: started.map((s, i) => ({ name: i === 0 ? 'training' : `gateway ${i}`, pid: s.child.pid as number })),
      urlFor: i => {
        const job = jobs[i % jobs.length] as Job
        const base = gateways === 0 ? training.wsUrl : (fronts[i % gateways] as ServiceProcess).wsUrl
        return liveUrl(base, job.tenantId, job.jobId, { token: job.token })
      },
      send: async (j, seq, sentAt) => {
        const body = event(jobs[j] as Job, 'training.product.completed', { product_name: `p${seq}`, total_products: 1_000_000, sent_at: sentAt })
        await p.publishRaw('training.product.completed', body)
      },
      // Every job started (and running) before clients connect, so snapshots are alike.
      prepare: async () => {
        await Promise.all(jobs.map(job => p.publishRaw('training.started', event(job, 'training.started', { total_products: 1_000_000 }))))
        const deadline = Date.now() + 60_000
        while (await metricValue(training, 'training_events_total', 'outcome="applied"') < jobs.length) {
          if (Date.now() > deadline) throw new Error('the jobs did not start in time')
          await new Promise(resolve => setTimeout(resolve, 100))
        }
      },
      sessions: () => metricValue(training, 'training_link_sessions'),
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

export function startStack (target: Target, jobs: Job[], gateways: number, profileDir?: string): Promise<Stack> {
  if (target === 'bare') return startBare(jobs)
  return startReal(jobs, target === 'direct' ? 0 : gateways, profileDir)
}
