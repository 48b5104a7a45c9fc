/** A watch on a fake server, with everything it emits recorded. */
import type { JobSnapshot, JobView, ServerMessage } from '@training-live/events'
import type { ConnectionState, JobWatch, RetryInfo, WatchOptions } from '../../src/job-watch.ts'
import { watchJob } from '../../src/watch-job.ts'
import type { WatchError } from '../../src/watch-error.ts'
import { fakeServer, type FakeServer, type FakeSocket } from './fake-socket.ts'
import { JOB, TENANT, snapshot } from './messages.ts'

export interface Recorded {
  watch: JobWatch
  messages: ServerMessage[]
  states: JobView[]
  connections: ConnectionState[]
  retries: RetryInfo[]
  ends: JobView[]
  errors: WatchError[]
  /** How many times getToken was called; the n-th call returned `token-n`. */
  tokens: () => number
}

/** Tiny back-off, so that tests do not wait. */
export const FAST_BACKOFF = { initialMs: 1, maxMs: 4, factor: 2 }

export function startWatch (server: FakeServer<FakeSocket>, options: Partial<WatchOptions> = {}): Recorded {
  let tokens = 0
  const watch = watchJob({
    baseUrl: 'ws://gateway.test',
    tenantId: TENANT,
    jobId: JOB,
    getToken: () => `token-${++tokens}`,
    WebSocket: server.WebSocket,
    backoff: FAST_BACKOFF,
    ...options
  })
  const r: Recorded = { watch, messages: [], states: [], connections: [], retries: [], ends: [], errors: [], tokens: () => tokens }
  watch.on('message', m => r.messages.push(m))
  watch.on('state', v => r.states.push(v))
  watch.on('connection', c => r.connections.push(c))
  watch.on('retry', i => r.retries.push(i))
  watch.on('end', v => r.ends.push(v))
  watch.on('error', e => r.errors.push(e))
  return r
}

/** Timers pending in this process; close() must leave none of its own. */
export function pendingTimers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

export interface FirstSocket {
  server: FakeServer<FakeSocket>
  r: Recorded
  /** The first socket the client made, as the client left it. */
  socket: FakeSocket
  /** Timers pending in the process before the watch started. */
  timersBefore: number
}

/** A watch on a fake server of its own, and its first socket. */
export async function firstSocket (options: Partial<WatchOptions> = {}): Promise<FirstSocket> {
  const server = fakeServer('browser')
  const timersBefore = pendingTimers()
  const r = startWatch(server, options)
  return { server, r, socket: await server.socket(1), timersBefore }
}

/** The same, the socket open and its snapshot delivered (a running job at 20 %, unless `snapshotData` says otherwise). */
export async function openWatch (options: Partial<WatchOptions> & { snapshotData?: Partial<JobSnapshot> } = {}): Promise<FirstSocket> {
  const { snapshotData, ...watchOptions } = options
  const first = await firstSocket(watchOptions)
  first.socket.open()
  first.socket.deliver(snapshot(snapshotData))
  return first
}

/** The server drops socket n - 1 with `code`; returns socket n, opened, once the client made it. */
export async function reconnected (server: FakeServer<FakeSocket>, n: number, code: number): Promise<FakeSocket> {
  ;(server.sockets[n - 2] as FakeSocket).serverClose(code)
  const next = await server.socket(n)
  next.open()
  return next
}

/** The ids of the live events handed on, in order. */
export function liveIds (r: Recorded): string[] {
  return r.messages.flatMap(m => 'id' in m ? [m.id] : [])
}
