/**
 * A redis-server owned by one test, on its own port and in its own folder:
 * a plain server (optionally with an fsync'ed AOF so a restart keeps the
 * data), a replica, a Sentinel, or a Cluster node. Never the shared Redis.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { reapOnExit, freePort } from './services.ts'

const run = promisify(execFile)

export interface OwnedRedisOptions {
  /** Append-only file, fsync'ed on every write: a restart keeps the data. */
  persistent?: boolean
  /** More server arguments, e.g. `['--replicaof', '127.0.0.1', '7000']` or `['--cluster-enabled', 'yes']`. */
  args?: string[]
  /** Sentinel mode, with these lines in its config file (it must be able to rewrite the file). */
  sentinelConfig?: string[]
}

export class OwnedRedis {
  readonly port: number
  readonly #options: OwnedRedisOptions
  #dir: string | null = null
  #child: ChildProcess | null = null

  constructor (port: number, options: OwnedRedisOptions = {}) {
    this.port = port
    this.#options = options
  }

  static async start (options: OwnedRedisOptions = {}): Promise<OwnedRedis> {
    const redis = new OwnedRedis(await freePort(), options)
    await redis.start()
    return redis
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get address (): string {
    return `127.0.0.1:${this.port}`
  }

  get running (): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null
  }

  async start (): Promise<void> {
    const o = this.#options
    this.#dir ??= await mkdtemp(join(tmpdir(), 'owned-redis-'))
    const args: string[] = []
    if (o.sentinelConfig !== undefined) {
      const file = join(this.#dir, 'sentinel.conf')
      await writeFile(file, [`port ${this.port}`, 'bind 127.0.0.1', `dir ${this.#dir}`, ...o.sentinelConfig].join('\n') + '\n')
      args.push(file, '--sentinel')
    } else {
      args.push('--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.#dir, '--enable-debug-command', 'local')
      if (o.persistent === true) args.push('--appendonly', 'yes', '--appendfsync', 'always')
      else args.push('--appendonly', 'no')
      args.push(...(o.args ?? []))
    }
    const child = spawn('redis-server', args, { stdio: 'ignore' })
    this.#child = child
    reapOnExit(child)
    const deadline = Date.now() + 10_000
    while ((await this.cli('PING').catch(() => '')) !== 'PONG') {
      if (Date.now() > deadline || !this.running) throw new Error(`redis-server on ${this.port} did not start`)
      await sleep(50)
    }
  }

  /** Runs one command with redis-cli against this server; resolves with its output, trimmed. */
  async cli (...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(this.port), ...args])
    // redis-cli exits 0 on an error reply.
    if (stdout.startsWith('ERR')) throw new Error(`redis-cli ${args.join(' ')}: ${stdout.trim()}`)
    return stdout.trim()
  }

  /** Kills the server (kill -9); without persistence its data is gone. */
  async kill (): Promise<void> {
    const child = this.#child
    if (child === null || !this.running) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** Kills the server and removes its files (teardown). */
  async destroy (): Promise<void> {
    await this.kill()
    if (this.#dir !== null) await rm(this.#dir, { recursive: true, force: true })
  }
}
