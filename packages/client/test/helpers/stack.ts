/**
 * Real processes for the end-to-end tests: training replicas behind
 * gateways, on this test file's own AMQP topology and Redis prefix, a
 * publisher, and the way to restart a killed process where it was.
 */
import type { Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import type { TrainingEvent } from '@training-live/events'
import { createPublisher, type Publisher } from '@training-live/events/publisher'
import {
  LiveClient, deleteKeys, deleteTopology, liveUrl, mintToken, startService, testTopology, type ServiceProcess
} from '@training-live/test-kit'
import { watchJob, type JobWatch, type RetryInfo, type WatchOptions } from '../../src/index.ts'

export interface Stack {
  replicas: ServiceProcess[]
  gateways: ServiceProcess[]
  publisher: Publisher
  /** Starts a stopped (or killed) process again, on its port, with its environment. */
  restart: (service: ServiceProcess) => Promise<ServiceProcess>
}

export async function startStack (t: Test, name: string, size: { replicas: number, gateways: number }): Promise<Stack> {
  const topology = testTopology(name)
  const running: ServiceProcess[] = []
  const envOf = new Map<ServiceProcess, Record<string, string>>()
  const opened: { publisher?: Publisher } = {}
  t.teardown(async () => {
    await opened.publisher?.close()
    await Promise.all(running.map(async p => await p.stop('SIGKILL')))
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const launch = async (kind: 'training' | 'gateway', env: Record<string, string>): Promise<ServiceProcess> => {
    const service = await startService(kind, { env })
    running.push(service)
    envOf.set(service, env)
    return service
  }
  const replicas = await Promise.all(Array.from({ length: size.replicas }, async () => await launch('training', topology.env)))
  const upstreams = { TRAINING_URLS: replicas.map(r => r.url).join(',') }
  const gateways = await Promise.all(Array.from({ length: size.gateways }, async () => await launch('gateway', upstreams)))
  const publisher = opened.publisher = await createPublisher({ url: topology.env.AMQP_URL, exchange: topology.exchange })
  const restart = async (service: ServiceProcess): Promise<ServiceProcess> =>
    await launch(service.name as 'training' | 'gateway', { ...envOf.get(service), PORT: service.port })
  return { replicas, gateways, publisher, restart }
}

/** Publishes the events in order, each confirmed, `paceMs` apart, without waiting for it. */
export function publishJob (publisher: Publisher, events: TrainingEvent[], paceMs: number): Promise<void> {
  return (async () => {
    for (const event of events) {
      await publisher.publishRaw(event.type, JSON.stringify(event), { messageId: event.event_id })
      await sleep(paceMs)
    }
  })()
}

/** A watch through real sockets, recording the live ids it handed on, its retries and its getToken calls. */
export interface RecordedWatch {
  watch: JobWatch
  /** Snapshots received, one a connection. */
  snapshots: number
  ids: string[]
  retries: RetryInfo[]
  tokens: () => number
}

export function recordWatch (options: Omit<WatchOptions, 'WebSocket' | 'getToken'> & { getToken?: () => Promise<string> }): RecordedWatch {
  let tokens = 0
  const getToken = options.getToken ?? (async () => await mintToken({ tenantId: options.tenantId }))
  const watch = watchJob({ backoff: { initialMs: 50, maxMs: 500 }, ...options, WebSocket, getToken: async () => { tokens++; return await getToken() } })
  const r: RecordedWatch = { watch, snapshots: 0, ids: [], retries: [], tokens: () => tokens }
  watch.on('message', m => {
    if ('id' in m) r.ids.push(m.id)
    else if (m.type === 'connected') r.snapshots++
  })
  watch.on('retry', info => r.retries.push(info))
  return r
}

/** The job's whole history, read by a fresh plain client from the start (last_id=0-0). */
export async function historyIds (gateway: ServiceProcess, tenantId: string, jobId: string): Promise<string[]> {
  const reader = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }), last_id: '0-0' }))
  const closed = await reader.closedPromise
  if (closed.code !== 1000 || reader.messages[0]?.data?.recovered !== true) throw new Error(`history read ended with ${closed.code}`)
  return reader.events.map(m => m.id as string)
}

/** Polls until `check` holds. */
export async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}
