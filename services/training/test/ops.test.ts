/**
 * Operations of a real training process: health, readiness with each
 * dependency up or down, metrics, configuration errors and defaults.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  REDIS_URL, TEST_SECRET, deleteKeys, deleteTopology, freePort, startService, testTopology, type ServiceProcess
} from '@training-live/test-kit'
import { loadTrainingConfig } from '../src/config.ts'

const topology = testTopology('ops')
const processes: ServiceProcess[] = []

t.teardown(async () => {
  await Promise.all(processes.map(p => p.stop('SIGKILL')))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

async function start (env: Record<string, string>, waitFor: 'ready' | 'health' | 'exit' = 'ready'): Promise<ServiceProcess> {
  const p = await startService('training', { env, waitFor })
  processes.push(p)
  return p
}

async function getJson (url: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** Polls until `check` holds; for state reached asynchronously (never a timed assertion). */
async function eventually<T> (what: string, probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await sleep(100)
  }
}

t.test('health, readiness and metrics of a connected process', async t => {
  const p = await start(topology.env)
  const health = await getJson(`${p.url}/health`)
  t.equal(health.status, 200)
  t.same(health.body, { status: 'ok' })

  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 200)
  t.same(ready.body, { status: 'ready', checks: { redis: true, amqp: true } })

  const metrics = await eventually('training_amqp_connected 1', async () => {
    const res = await fetch(`${p.url}/metrics`)
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
  }, m => /^training_amqp_connected 1$/m.test(m.text))
  t.equal(metrics.status, 200)
  t.match(metrics.type, /^text\/plain/)
  t.match(metrics.text, /^# TYPE training_events_total counter$/m)
  t.match(metrics.text, /^training_live_connections 0$/m)
  t.match(metrics.text, /^training_amqp_connected 1$/m)
  t.match(metrics.text, /^training_redis_connected /m)
  t.match(metrics.text, /^training_process_cpu_user_seconds_total /m, 'default process metrics, prefixed')
})

t.test('AMQP unreachable: starts, /ready 503 with checks.amqp false', async t => {
  const port = await freePort()
  const p = await start({ ...topology.env, AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` }, 'health')
  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 503)
  t.match(ready.body, { status: 'not_ready', checks: { amqp: false } })
  t.equal((await fetch(`${p.url}/health`)).status, 200, 'still alive')
  t.match(await (await fetch(`${p.url}/metrics`)).text(), /^training_amqp_connected 0$/m)
  t.equal(p.child.exitCode, null, 'the process keeps running')
})

t.test('Redis unreachable: starts, /ready 503 with checks.redis false', async t => {
  const port = await freePort()
  const p = await start({ ...topology.env, REDIS_URL: `redis://127.0.0.1:${port}` }, 'health')
  const ready = await getJson(`${p.url}/ready`)
  t.equal(ready.status, 503)
  t.match(ready.body, { status: 'not_ready', checks: { redis: false } })
  t.equal((await fetch(`${p.url}/health`)).status, 200, 'still alive')
  t.equal(p.child.exitCode, null, 'the process keeps running')
})

for (const [name, value] of [['AMQP_PREFETCH', '0'], ['REDIS_URL', 'http://x'], ['HEARTBEAT_INTERVAL_MS', 'soon']] as const) {
  t.test(`${name}=${value} stops the process with a message naming ${name}`, async t => {
    const p = await start({ ...topology.env, [name]: value }, 'exit')
    t.not(p.child.exitCode, null, 'exited')
    t.not(p.child.exitCode, 0, 'exit code is non-zero')
    t.match(p.output(), name)
    t.match(p.output(), /invalid configuration/)
  })
}

/**
 * startService always passes PORT as a number it chose (PORT=abc becomes "NaN"),
 * so this one case spawns the server itself to pass the literal value.
 */
t.test('PORT=abc stops the process with a message naming PORT', async t => {
  const cwd = fileURLToPath(new URL('../', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, ...topology.env, PORT: 'abc' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.not(code, null)
  t.not(code, 0, 'exit code is non-zero')
  t.match(out, 'PORT')
  t.match(out, /invalid configuration/)
})

t.test('NODE_ENV=production without JWT_SECRET refuses to start', async t => {
  const p = await start({ ...topology.env, NODE_ENV: 'production', JWT_SECRET: '' }, 'exit')
  t.not(p.child.exitCode, null, 'exited')
  t.not(p.child.exitCode, 0, 'exit code is non-zero')
  t.match(p.output(), /JWT_SECRET \(or JWT_PUBLIC_KEY\) must be set when NODE_ENV=production/)
  t.notMatch(p.output(), /listening/i, 'never listened')
})

t.test('defaults are the contract\'s', async t => {
  const c = loadTrainingConfig({})
  t.equal(c.AMQP_URL, 'amqp://guest:guest@127.0.0.1:5672')
  t.equal(c.REDIS_URL, 'redis://127.0.0.1:6379')
  t.equal(c.PORT, 8001)
  t.equal(c.AMQP_EXCHANGE, 'training.events')
  t.equal(c.AMQP_QUEUE, 'training.progress')
  t.equal(c.AMQP_DEAD_LETTER_EXCHANGE, 'training.events.dlx')
  t.equal(c.AMQP_DEAD_LETTER_QUEUE, 'training.progress.dead')
  t.equal(c.NODE_ENV, 'development')
  t.equal(c.JWT_SECRET, undefined, 'no secret by default (the development secret is used, with a warning)')
  t.equal(REDIS_URL.startsWith('redis://'), true)
})

t.test('configuration errors from loadTrainingConfig name the variable', async t => {
  t.throws(() => loadTrainingConfig({ AMQP_PREFETCH: '0' }), /AMQP_PREFETCH/)
  t.throws(() => loadTrainingConfig({ PORT: 'abc' }), /PORT/)
  t.throws(() => loadTrainingConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/)
  t.throws(() => loadTrainingConfig({ NODE_ENV: 'production' }), /JWT_SECRET/)
  t.equal(loadTrainingConfig({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET }).JWT_SECRET, TEST_SECRET)
})
