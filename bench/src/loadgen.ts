/**
 * A load-generator worker (forked by run.ts): opens its share of the client
 * WebSockets, and for every message records the publish-to-receive latency
 * from the `sent_at` the publisher put in the event's data. It reads that one
 * number without parsing the message, so that the generator stays lean.
 */
import * as hdr from 'hdr-histogram-js'
import WebSocket from 'ws'
import type { ToWorker, FromWorker } from './protocol.ts'
import { newHistogram } from './histogram.ts'

const SENT_AT = Buffer.from('"sent_at":')
/** Connections opening at once; more would only queue in the servers' accept backlogs. */
const CONNECT_CONCURRENCY = 200

let sockets: WebSocket[] = []
let latency = newHistogram()
let received = 0
/** Worst latency (ms) of the messages published in each second since the last reset. */
let worstBySecond = new Map<number, number>()
let resetAt = 0
let unexpectedCloses = 0

function send (message: FromWorker): void {
  process.send?.(message)
}

/** The publisher's clock and ours are the same machine's: performance.timeOrigin + now() in ms. */
function now (): number {
  return performance.timeOrigin + performance.now()
}

function cpuSeconds (): number {
  const cpu = process.cpuUsage()
  return (cpu.user + cpu.system) / 1e6
}

function onMessage (data: Buffer): void {
  const at = data.indexOf(SENT_AT)
  if (at < 0) return
  const start = at + SENT_AT.length
  let end = start
  while (end < data.length && ((data[end] as number) === 0x2e || ((data[end] as number) >= 0x30 && (data[end] as number) <= 0x39))) end++
  const sentAt = Number(data.toString('latin1', start, end))
  received++
  const ms = now() - sentAt
  // Microseconds, at least 1 (the histogram's lowest value).
  latency.recordValue(Math.max(1, Math.round(ms * 1000)))
  const second = Math.max(0, Math.floor((sentAt - resetAt) / 1000))
  if (ms > (worstBySecond.get(second) ?? 0)) worstBySecond.set(second, ms)
}

async function connectAll (urls: string[], headers: Record<string, string>): Promise<void> {
  const connectTimes = newHistogram()
  let failed = 0
  const errors = new Map<string, number>()
  const started = now()
  let next = 0
  async function one (): Promise<void> {
    while (next < urls.length) {
      const url = urls[next++] as string
      const t0 = now()
      await new Promise<void>(resolve => {
        const socket = new WebSocket(url, { headers, perMessageDeflate: false })
        let settled = false
        const done = (error?: string) => {
          if (settled) return
          settled = true
          if (error === undefined) {
            connectTimes.recordValue(Math.max(1, Math.round((now() - t0) * 1000)))
            sockets.push(socket)
          } else {
            failed++
            errors.set(error, (errors.get(error) ?? 0) + 1)
          }
          resolve()
        }
        // Connected when the first message (the snapshot, or the bare server's hello) arrives.
        socket.once('message', () => done())
        socket.on('message', (data: Buffer) => onMessage(data))
        socket.once('unexpected-response', (_req, res) => { done(`HTTP ${res.statusCode ?? 0}`); socket.terminate() })
        socket.once('error', err => done(err.message))
        socket.once('close', () => {
          if (!settled) done('closed before the snapshot')
          else unexpectedCloses++
        })
      })
    }
  }
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, one))
  send({
    type: 'connected',
    connected: sockets.length,
    failed,
    errors: Object.fromEntries(errors),
    elapsedMs: now() - started,
    connectTimes: hdr.encodeIntoCompressedBase64(connectTimes)
  })
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'connect':
      void connectAll(message.urls, message.headers)
      break
    case 'reset':
      latency = newHistogram()
      received = 0
      worstBySecond = new Map()
      resetAt = now()
      send({ type: 'reset', cpuSeconds: cpuSeconds() })
      break
    case 'report': {
      send({
        type: 'report',
        received,
        unexpectedCloses,
        open: sockets.filter(s => s.readyState === WebSocket.OPEN).length,
        latency: hdr.encodeIntoCompressedBase64(latency),
        worstBySecond: Object.fromEntries(worstBySecond),
        cpuSeconds: cpuSeconds(),
        rssBytes: process.memoryUsage.rss()
      })
      break
    }
    case 'close':
      for (const s of sockets) s.terminate()
      sockets = []
      send({ type: 'closed' })
      break
  }
})
