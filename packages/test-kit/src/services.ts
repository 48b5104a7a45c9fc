/**
 * Starts the real services as child processes on free ports, and stops them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const TEST_SECRET = 'test-secret-0123456789abcdef'

const children = new Set<ChildProcess>()
let reaping = false

/**
 * Kills `child` (SIGKILL) if this test process ends first: on a normal exit, and on the signals
 * that end it without an 'exit' event (a runner's timeout, Ctrl-C), so no service outlives its test.
 */
export function reapOnExit (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
  if (reaping) return
  reaping = true
  const reapAll = () => { for (const c of children) c.kill('SIGKILL') }
  process.once('exit', reapAll)
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      reapAll()
      // Then end as the signal would have.
      process.kill(process.pid, signal)
    })
  }
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

export interface ServiceProcess {
  name: string
  port: string
  url: string
  wsUrl: string
  child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export interface StartOptions {
  env?: Record<string, string>
  /** Where the service's package is (default: its folder in this repository), e.g. a `pnpm deploy` output. */
  cwd?: string
  /** Wait until GET /ready answers 200 (default), or only until /health answers. */
  waitFor?: 'ready' | 'health' | 'exit'
  timeoutMs?: number
  /** Extra Node options for the service process (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
  execArgv?: string[]
}

export async function startService (service: 'training' | 'gateway', options: StartOptions = {}): Promise<ServiceProcess> {
  const port = options.env?.PORT ?? String(await freePort())
  const cwd = options.cwd ?? `${ROOT}services/${service}`
  const child = spawn(process.execPath, [...(options.execArgv ?? []), '--import', 'tsx', 'src/server.ts'], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_SECRET,
      ...options.env,
      PORT: port
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = once(child, 'exit')
  reapOnExit(child)
  const url = `http://127.0.0.1:${port}`
  const proc: ServiceProcess = {
    name: service,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop (signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      const [code] = await exited as [number | null]
      return code
    }
  }
  if (options.waitFor === 'exit') {
    await Promise.race([exited, sleep(options.timeoutMs ?? 60_000)])
    return proc
  }
  const path = options.waitFor === 'health' ? '/health' : '/ready'
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}:\n${out}`)
    try {
      const res = await fetch(url + path)
      if (res.ok) return proc
    } catch {}
    await sleep(100)
  }
  await proc.stop('SIGKILL')
  throw new Error(`${service} did not become ${path.slice(1)} in time:\n${out}`)
}
