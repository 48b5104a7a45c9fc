/**
 * What the browser test and the screenshot script run against: a training
 * service and a gateway on free ports with a topology of their own, the
 * dashboard's dev server with the demo plugin, and Debian's Chromium driven by
 * playwright-core (which never downloads a browser). `stop` undoes it all.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import {
  AMQP_URL, TEST_SECRET, deleteKeys, deleteTopology, startService, testTopology,
  type ServiceProcess, type Topology
} from '@training-live/test-kit'
import { simulate, type SimulateOptions, type SimulationSummary } from '@training-live/simulator'
import { startDashboardServer, type DashboardServer } from '../../src/demo/dev-server.ts'
import { DemoJobList } from '../../src/demo/job-list.ts'

/** Debian's package; another build (or another distribution's path) through CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

export interface BrowserStack {
  topology: Topology
  training: ServiceProcess
  gateway: ServiceProcess
  jobs: DemoJobList
  dashboard: DashboardServer
  context: BrowserContext
  /** Runs a simulator batch against this stack's exchange; its jobs' starts and ends go to the demo job list. */
  simulate: (options: SimulateOptions) => Promise<SimulationSummary>
  /** Starts the gateway again on its port (after a test stopped it). */
  restartGateway: () => Promise<void>
  stop: () => Promise<void>
}

export async function startBrowserStack (name: string, viewport = { width: 1280, height: 860 }): Promise<BrowserStack> {
  const cleanups: Array<() => Promise<unknown>> = []
  const stop = async (): Promise<void> => {
    // Last started, first stopped; one failing step does not keep the others from running.
    const errors: unknown[] = []
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => errors.push(err))
    cleanups.length = 0
    if (errors.length > 0) throw new AggregateError(errors, 'browser stack cleanup failed')
  }
  try {
    const topology = testTopology(name)
    cleanups.push(() => deleteKeys(topology.env.REDIS_KEY_PREFIX as string), () => deleteTopology(topology))
    const training = await startService('training', { env: topology.env })
    cleanups.push(() => training.stop())
    const gatewayEnv = { TRAINING_URLS: training.url }
    let gateway = await startService('gateway', { env: gatewayEnv })
    cleanups.push(() => gateway.stop())
    const jobs = new DemoJobList()
    const dashboard = await startDashboardServer({ port: 0, demo: { jobs, gateway: gateway.wsUrl, secret: TEST_SECRET } })
    cleanups.push(() => dashboard.close())
    const userDataDir = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'))
    cleanups.push(() => rm(userDataDir, { recursive: true, force: true }))
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      viewport,
      deviceScaleFactor: 1,
      reducedMotion: 'reduce'
    })
    cleanups.push(() => context.close())
    return {
      topology,
      training,
      get gateway () { return gateway },
      jobs,
      dashboard,
      context,
      simulate: async (options: SimulateOptions) => await simulate({
        url: AMQP_URL,
        exchange: topology.exchange,
        ...options,
        onEvent: event => {
          jobs.record(event)
          options.onEvent?.(event)
        }
      }),
      restartGateway: async () => {
        gateway = await startService('gateway', { env: { ...gatewayEnv, PORT: gateway.port } })
      },
      stop
    }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}
