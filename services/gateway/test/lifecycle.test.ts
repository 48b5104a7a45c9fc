/**
 * Contract bullets about how the stack is run: publishing while no service
 * runs, asymmetric keys, default configuration, and `pnpm start`.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import amqplib from 'amqplib'
import { SignJWT, exportSPKI, generateKeyPair } from 'jose'
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, QUEUE, livePath } from '@training-live/events'
import { createPublisher } from '@training-live/events/publisher'
import { DEV_SECRET } from '@training-live/service-kit'
import {
  AMQP_URL, LiveClient, deleteKeys, deleteTopology, jobEvents, liveUrl, mintToken, startService, testTopology, uniqueId,
  type ServiceProcess
} from '@training-live/test-kit'
import { loadGatewayConfig } from '../src/config.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

t.test('events published while no training service runs are applied when one starts', async t => {
  const topology = testTopology('offline')
  t.teardown(async () => {
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const first = await startService('training', { env: topology.env })
  await first.stop()

  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const publisher = await createPublisher({ url: AMQP_URL, exchange: topology.exchange })
  const events = jobEvents(tenantId, jobId, ['a', 'b'])
  for (const [i, e] of events.entries()) {
    if (i === 1) {
      // This one carries its id only in the message_id property, as the contract allows.
      const { event_id: id, ...body } = e
      await publisher.publishRaw(e.type, JSON.stringify(body), { messageId: id })
    } else {
      await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
    }
  }
  await publisher.close()

  const second = await startService('training', { env: topology.env })
  t.teardown(() => second.stop())
  const client = new LiveClient(liveUrl(second.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }), last_id: '0-0' }))
  t.teardown(() => client.close())
  await client.closedPromise
  t.same(client.events.map(m => m.progress), [0, 20, 50, 80, 100], 'every event kept by the durable queue was applied')
  t.equal(client.closed?.code, 1000)
})

/** A training service and a gateway with the same key settings (both verify the token: the gateway forwards it). */
async function stackWithKeys (t: Test, name: string, keyEnv: Record<string, string>): Promise<ServiceProcess> {
  const topology = testTopology(name)
  const training = await startService('training', { env: { ...topology.env, ...keyEnv } })
  const gateway = await startService('gateway', { env: { ...keyEnv, TRAINING_URLS: training.url } })
  t.teardown(async () => {
    await Promise.all([gateway.stop(), training.stop()])
    await deleteTopology(topology)
  })
  return gateway
}

t.test('asymmetric keys: RS256 with JWT_PUBLIC_KEY', async t => {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const pem = await exportSPKI(publicKey)
  const gateway = await stackWithKeys(t, 'rs256', { JWT_PUBLIC_KEY: pem, JWT_ALGORITHMS: 'RS256', JWT_SECRET: '' })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const claims = { tenant_id: tenantId }
  const exp = Math.floor(Date.now() / 1000) + 600

  const rsToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setSubject('u').setExpirationTime(exp).sign(privateKey)
  const ok = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token: rsToken }))
  t.teardown(() => ok.close())
  await ok.opened
  await ok.waitFor(m => m.length === 1, 10_000, 'snapshot')
  t.equal(ok.messages[0]?.type, 'connected', 'a token signed with the private key is accepted')

  const hsToken = await mintToken({ tenantId })
  const refused = await fetch(`${gateway.url}${livePath(tenantId, jobId)}?token=${hsToken}`)
  t.equal(refused.status, 401, 'an HS256 token is refused when RS256 is configured')

  // Algorithm confusion: HS256 "signed" with the public key as the secret.
  const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime(exp)
    .sign(new TextEncoder().encode(pem))
  const confusedRes = await fetch(`${gateway.url}${livePath(tenantId, jobId)}?token=${confused}`)
  t.equal(confusedRes.status, 401, 'the public key used as an HMAC secret is refused')
  t.equal(((await confusedRes.json()) as { code: string }).code, 'GATEWAY_TOKEN_INVALID')
})

t.test('key rotation: an RS256 key replaces an HS256 secret, tokens of both accepted meanwhile', async t => {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const oldSecret = 'rotated-out-secret-0123456789'
  const gateway = await stackWithKeys(t, 'rotation', {
    JWT_SECRET: '', JWT_PUBLIC_KEY: await exportSPKI(publicKey), JWT_ALGORITHMS: 'RS256', JWT_PREVIOUS_SECRET: oldSecret
  })
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const exp = Math.floor(Date.now() / 1000) + 600
  const tokens = {
    current: await new SignJWT({ tenant_id: tenantId }).setProtectedHeader({ alg: 'RS256' }).setSubject('u').setExpirationTime(exp).sign(privateKey),
    previous: await mintToken({ tenantId, secret: oldSecret })
  }
  for (const [name, token] of Object.entries(tokens)) {
    const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))
    t.teardown(() => client.close())
    await client.waitFor(m => m.length === 1, 10_000, `snapshot with the ${name} key's token`)
    t.equal(client.messages[0]?.type, 'connected', `a token of the ${name} key is accepted end to end`)
  }
  const refusal = async (token: string) => {
    const res = await fetch(`${gateway.url}${livePath(tenantId, jobId)}?token=${token}`)
    return `${res.status} ${((await res.json()) as { code: string }).code}`
  }
  t.equal(await refusal(await mintToken({ tenantId, secret: 'neither-key-0123456789abcdef' })), '401 GATEWAY_TOKEN_INVALID', 'a token of neither key')
  t.equal(await refusal(await mintToken({ tenantId, secret: oldSecret, expiresIn: -60 })), '401 GATEWAY_TOKEN_EXPIRED', 'an expired token of the old key is "expired"')
  t.equal(await refusal(await mintToken({ tenantId: 'someone-else', secret: oldSecret })), '403 GATEWAY_TENANT_FORBIDDEN', 'the tenant is checked whichever key signed')
})

t.test('gateway defaults are the contract\'s', async t => {
  const config = loadGatewayConfig({})
  t.equal(config.PORT, 8000)
  t.equal(config.TRAINING_URLS, 'http://127.0.0.1:8001')
  t.same(config.upstreams.map(u => u.href), ['http://127.0.0.1:8001/'])
  t.same(loadGatewayConfig({ TRAINING_URLS: 'http://a:1, http://b:2' }).upstreams.map(u => u.host), ['a:1', 'b:2'])
})

t.test('pnpm start runs a gateway on 8000 and a training service on 8001', async t => {
  const probe = await amqplib.connect(AMQP_URL)
  probe.on('error', () => {})
  const channel = await probe.createChannel()
  channel.on('error', () => {})
  // Only remove afterwards what this test created, never an operator's queues.
  const existed = await channel.checkQueue(QUEUE).then(() => true, () => false)
  await probe.close().catch(() => {})

  const child = spawn('pnpm', ['start'], { cwd: ROOT, env: { PATH: process.env.PATH, LOG_LEVEL: 'warn' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null) {
      process.kill(-(child.pid as number), 'SIGTERM')
      await exited
    }
    if (!existed) {
      const c = await amqplib.connect(AMQP_URL)
      const ch = await c.createChannel()
      await ch.deleteQueue(QUEUE)
      await ch.deleteQueue(DEAD_LETTER_QUEUE)
      await ch.deleteExchange(DEAD_LETTER_EXCHANGE)
      await ch.deleteExchange(EXCHANGE)
      await c.close()
    }
  })

  const deadline = Date.now() + 60_000
  let ready = false
  while (!ready && Date.now() < deadline && child.exitCode === null) {
    const answers = await Promise.all(['http://127.0.0.1:8000/ready', 'http://127.0.0.1:8001/ready'].map(u => fetch(u).then(r => r.ok, () => false)))
    ready = answers.every(Boolean)
    if (!ready) await sleep(200)
  }
  t.ok(ready, `both services ready (ports 8000 and 8001 must be free)\n${output}`)

  // The gateway reaches the training service at its default URL, with the development secret both share.
  const tenantId = uniqueId('tenant')
  const token = await new SignJWT({ tenant_id: tenantId }).setProtectedHeader({ alg: 'HS256' }).setSubject('dev')
    .setExpirationTime('5m').sign(new TextEncoder().encode(DEV_SECRET))
  const client = new LiveClient(liveUrl('ws://127.0.0.1:8000', tenantId, `job_${randomUUID().slice(0, 8)}`, { token }))
  t.teardown(() => client.close())
  await client.opened
  await client.waitFor(m => m.length === 1, 10_000, 'snapshot')
  t.match(client.messages[0], { type: 'connected', data: { status: 'pending', progress: 0 } })
})
