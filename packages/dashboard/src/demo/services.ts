/**
 * The training service and the gateway for the demo, as `pnpm start` runs
 * them: reused when they already answer /ready, else started as child
 * processes and stopped (SIGTERM, then SIGKILL after a grace) when the demo ends.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const SERVICES_DIR = fileURLToPath(new URL('../../../../services/', import.meta.url))
// Beyond the services' own SHUTDOWN_GRACE_MS (10 s by default).
const STOP_GRACE_MS = 15_000

export interface DemoServicesOptions {
  gatewayPort: number
  trainingPort: number
  /** The JWT secret given to services started here. */
  secret: string
  /** Environment for services started here, over the demo's own. */
  env?: Record<string, string>
  /** Aborting stops the wait for the services (and the services started). */
  signal?: AbortSignal
}

export interface DemoServices {
  gatewayWsUrl: string
  /** What this demo started, in start order; empty when it reused running services. */
  started: string[]
  stop: () => Promise<void>
}

async function ready (url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) })).ok
  } catch {
    return false
  }
}

function spawnService (name: 'training' | 'gateway', port: number, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: `${SERVICES_DIR}${name}`,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env, PORT: String(port) },
    // Warnings and errors go to the demo's terminal.
    stdio: ['ignore', 'inherit', 'inherit']
  })
  // Should the demo die without stopping them, they go with it.
  const reap = (): void => { child.kill('SIGKILL') }
  process.once('exit', reap)
  child.once('exit', () => process.off('exit', reap))
  return child
}

async function waitReady (name: string, url: string, child: ChildProcess, signal?: AbortSignal, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await ready(url)) {
    signal?.throwIfAborted()
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready`)
    if (Date.now() > deadline) throw new Error(`${name} was not ready at ${url}/ready within ${timeoutMs / 1000} s`)
    await sleep(200)
  }
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

export async function startDemoServices (options: DemoServicesOptions): Promise<DemoServices> {
  const gatewayUrl = `http://127.0.0.1:${options.gatewayPort}`
  const trainingUrl = `http://127.0.0.1:${options.trainingPort}`
  const env = { ...options.env, JWT_SECRET: options.secret }
  const children: Array<{ name: string, child: ChildProcess }> = []
  const stop = async (): Promise<void> => {
    // The gateway first, so its clients are told to reconnect rather than see the training service vanish.
    for (const { child } of [...children].reverse()) await stopChild(child)
  }
  const result = { gatewayWsUrl: `ws://127.0.0.1:${options.gatewayPort}`, started: [] as string[], stop }
  // A ready gateway has a ready training service behind it.
  if (await ready(gatewayUrl)) return result
  try {
    if (!await ready(trainingUrl)) {
      const child = spawnService('training', options.trainingPort, env)
      children.push({ name: 'training', child })
      await waitReady('training', trainingUrl, child, options.signal)
    }
    const child = spawnService('gateway', options.gatewayPort, { ...env, TRAINING_URLS: trainingUrl })
    children.push({ name: 'gateway', child })
    await waitReady('gateway', gatewayUrl, child, options.signal)
  } catch (err) {
    await stop()
    throw err
  }
  result.started = children.map(c => c.name)
  return result
}
