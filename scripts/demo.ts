/**
 * Publishes a simulated job (a few products trained in parallel) and shows
 * its live progress, as a client of the gateway sees it.
 *   pnpm demo [products]
 * Needs the stack running (`pnpm start`); uses GATEWAY_URL, AMQP_URL and JWT_SECRET.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignJWT } from 'jose'
import WebSocket from 'ws'
import { livePath } from '@training-live/events'
import { createPublisher } from '@training-live/events/publisher'
import { DEV_SECRET } from '../packages/service-kit/src/auth.ts'

const products = Number(process.argv.slice(2).find(a => a !== '--') ?? 6)
const gateway = process.env.GATEWAY_URL ?? 'ws://127.0.0.1:8000'
const tenantId = 'tenant_demo'
const jobId = `training_${randomUUID().slice(0, 8)}`

const token = await new SignJWT({ tenant_id: tenantId })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('demo')
  .setExpirationTime('10m')
  .sign(new TextEncoder().encode(process.env.JWT_SECRET ?? DEV_SECRET))

const url = `${gateway}${livePath(tenantId, jobId)}?token=${token}`
const socket = new WebSocket(url)
const finished = new Promise<void>((resolve, reject) => {
  socket.on('message', data => {
    const m = JSON.parse(data.toString()) as { type: string, progress?: number, data: Record<string, unknown> }
    const progress = m.progress ?? m.data.progress
    const bar = '#'.repeat(Math.round(Number(progress) / 5)).padEnd(20, '.')
    console.log(`[${bar}] ${String(progress).padStart(3)}%  ${m.type.padEnd(17)} ${String(m.data.current_step ?? m.data.status ?? '')}`)
  })
  socket.on('close', (code, reason) => { console.log(`closed ${code} ${reason.toString()}`); resolve() })
  socket.on('error', reject)
  socket.on('unexpected-response', (_req, res) => reject(new Error(`gateway answered ${res.statusCode}: is the stack running (pnpm start)?`)))
})
await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
console.log(`watching ${tenantId}/${jobId} through ${gateway}`)

const publisher = await createPublisher({ url: process.env.AMQP_URL })
const base = { tenant_id: tenantId, job_id: jobId }
await publisher.publish('training.started', { ...base, data: { total_products: products } })
await sleep(300)
await publisher.publish('training.progress', { ...base, data: { step: 'Data Analysis', progress: 100 } })
// Products finish in parallel, so they complete in no particular order.
const names = Array.from({ length: products }, (_, i) => `product_${i + 1}`).sort(() => Math.random() - 0.5)
let done = 0
await Promise.all(names.map(async (name, i) => {
  await sleep(200 + i * 250 + Math.random() * 200)
  done++
  await publisher.publish('training.product.completed', {
    ...base, data: { product_name: name, total_products: products, products_completed: done, current_step: `Trained ${name}` }
  })
}))
await sleep(200)
await publisher.publish('training.completed', { ...base, data: { successful_trainings: products, failed_trainings: 0, total_duration: 3 } })
await publisher.close()
await finished
