/**
 * Shared pieces of the fault-injection tests: paced publishing, the job's
 * full history, the exactly-once checks, and ways to break a dependency
 * without touching the shared RabbitMQ and Redis (closing only a process'
 * own AMQP connections, a TCP proxy that can be cut; a test-owned Redis is
 * the test kit's OwnedRedis).
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { compareStreamIds, type TrainingEvent } from '@training-live/events'
import type { Publisher } from '@training-live/events/publisher'
import { LiveClient, freePort, jobEvents, liveUrl, mintToken, type ResumingClient } from '@training-live/test-kit'

const run = promisify(execFile)

/** A job's events: started, data analysis, `products` product.completed, completed. */
export function jobOf (tenantId: string, jobId: string, products: number): TrainingEvent[] {
  return jobEvents(tenantId, jobId, Array.from({ length: products }, (_, i) => `product-${i}`))
}

/** Publishes events one by one (confirmed), `paceMs` apart; `published` counts those confirmed. */
export function publishPaced (publisher: Publisher, events: TrainingEvent[], paceMs: number): { published: number, done: Promise<void> } {
  const state = { published: 0, done: Promise.resolve() }
  state.done = (async () => {
    for (const e of events) {
      await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
      state.published++
      if (paceMs > 0) await sleep(paceMs)
    }
  })()
  return state
}

/** The job's whole history (its live messages), read through `base` by a fresh client resuming from the start. */
export async function fullHistoryMessages (base: string, tenantId: string, jobId: string): Promise<LiveClient['events']> {
  const client = new LiveClient(liveUrl(base, tenantId, jobId, { token: await mintToken({ tenantId }), last_id: '0-0' }))
  const { code } = await client.closedPromise
  if (code !== 1000) throw new Error(`history read closed with ${code}`)
  if (client.messages[0]?.data?.recovered !== true) throw new Error('history read did not recover from 0-0')
  return client.events
}

/** The ids of the job's whole history. */
export async function fullHistory (base: string, tenantId: string, jobId: string): Promise<string[]> {
  return (await fullHistoryMessages(base, tenantId, jobId)).map(m => m.id as string)
}

/** Every event exactly once, in order, ending at 100 %: the checks each fault test makes for each client. */
export function assertExactlyOnce (t: Test, client: ResumingClient, history: string[], label: string): void {
  const ids = client.ids
  let increasing = true
  for (let i = 1; i < ids.length; i++) {
    if (compareStreamIds(ids[i] as string, ids[i - 1] as string) <= 0) {
      increasing = false
      t.fail(`${label}: id ${ids[i]} at ${i} does not follow ${ids[i - 1]}`)
      break
    }
  }
  t.ok(increasing, `${label}: ids strictly increase`)
  t.equal(new Set(ids).size, ids.length, `${label}: no duplicate`)
  t.same(ids, history, `${label}: exactly the job's history (${history.length} events)`)
  t.equal(client.last?.progress, 100, `${label}: ends at 100 %`)
  t.equal(client.last?.type, 'completed', `${label}: last event is completed`)
  t.notOk(client.snapshots.some(s => s.data?.recovered === false), `${label}: every resume recovered`)
  t.equal(client.closeCodes.at(-1), 1000, `${label}: closed with 1000 at the end`)
}

/** Waits until every client has received at least `n` live events. */
export async function allReached (clients: ResumingClient[], n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (clients.some(c => c.ids.length < n)) {
    if (Date.now() > deadline) throw new Error(`clients did not reach ${n} events: ${clients.map(c => c.ids.length).join(', ')}`)
    await sleep(10)
  }
}

/** Polls GET /ready as fast as it answers, recording each status (0: no answer), until stopped. */
export function pollReady (url: string): { statuses: number[], stop: () => Promise<number[]> } {
  const statuses: number[] = []
  const state = { stopped: false }
  const loop = (async () => {
    while (!state.stopped) {
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        statuses.push(res.status)
      } catch {
        statuses.push(0)
      }
      await sleep(5)
    }
  })()
  return { statuses, stop: async () => { state.stopped = true; await loop; return statuses } }
}

/** Waits until GET /ready answers `status`. */
export async function readyBecomes (url: string, status: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === status) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url}/ready did not answer ${status} in time`)
    await sleep(20)
  }
}

/** Local ports of the TCP connections a process has open to `remotePort` (needs `ss`; run as root for other users' processes). */
export async function localPortsTo (pid: number, remotePort: number): Promise<number[]> {
  const { stdout } = await run('ss', ['-Htnp', `( dport = :${remotePort} )`])
  const ports: number[] = []
  for (const line of stdout.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue
    const local = line.trim().split(/\s+/)[3] ?? ''
    ports.push(Number(local.slice(local.lastIndexOf(':') + 1)))
  }
  return ports
}

/**
 * Closes, from the broker's side, the AMQP connections of one process only
 * (never close_all_connections: other test files share the broker). Returns how many.
 */
export async function closeAmqpConnectionsOf (pid: number, reason: string): Promise<number> {
  const ports = new Set(await localPortsTo(pid, 5672))
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'pid', 'peer_port'])
  let closed = 0
  for (const line of stdout.split('\n')) {
    const [connection, port] = line.trim().split('\t')
    if (connection === undefined || port === undefined || !ports.has(Number(port))) continue
    await run('rabbitmqctl', ['close_connection', connection, reason])
    closed++
  }
  return closed
}

/**
 * A TCP proxy in front of a dependency: `cut()` drops every connection and
 * refuses new ones (a network partition), `restore()` lets them through again.
 */
export class TcpProxy {
  readonly #server: Server
  readonly #target: number
  readonly #sockets = new Set<Socket>()
  #up = true
  port = 0

  constructor (targetPort: number) {
    this.#target = targetPort
    this.#server = createServer(client => {
      if (!this.#up) { client.destroy(); return }
      const upstream = createConnection({ host: '127.0.0.1', port: this.#target })
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => { this.#sockets.delete(s); client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
  }

  async listen (): Promise<this> {
    this.port = await freePort()
    this.#server.listen(this.port, '127.0.0.1')
    await once(this.#server, 'listening')
    return this
  }

  cut (): void {
    this.#up = false
    for (const s of this.#sockets) s.destroy()
  }

  restore (): void {
    this.#up = true
  }

  async close (): Promise<void> {
    this.cut()
    await new Promise(resolve => this.#server.close(resolve))
  }
}
