/**
 * The gateway's operations surface (§4), through real processes: /health,
 * /metrics, and configuration errors that stop the process at start with a
 * message naming the variable.
 */
import t from 'tap'
import { freePort, startService, uniqueId, type ServiceProcess } from '@training-live/test-kit'

const processes: ServiceProcess[] = []
/** No training service behind it: these tests must not depend on one. */
const deadUrl = `http://127.0.0.1:${await freePort()}`

t.teardown(async () => {
  await Promise.all(processes.map(p => p.stop()))
})

/** Generous: the machine may be busy with other test files' processes. */
const START_TIMEOUT_MS = 60_000

async function start (options: Parameters<typeof startService>[1]): Promise<ServiceProcess> {
  const proc = await startService('gateway', { timeoutMs: START_TIMEOUT_MS, ...options })
  processes.push(proc)
  return proc
}

t.test('GET /health and GET /metrics', async t => {
  const gateway = await start({ env: { TRAINING_URLS: deadUrl }, waitFor: 'health' })

  const health = await fetch(`${gateway.url}/health`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })

  // One refusal, so that the refused counter has a sample too.
  const refusal = await fetch(`${gateway.url}/api/v1/tenants/${uniqueId('tenant')}/training/jobs/${uniqueId('job')}/live`)
  t.equal(refusal.status, 401)

  const metrics = await fetch(`${gateway.url}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.headers.get('content-type'), /^text\/plain/)
  const text = await metrics.text()
  t.match(text, /^# TYPE gateway_live_connections gauge$/m)
  t.match(text, /^gateway_live_connections 0$/m)
  t.match(text, /^# TYPE gateway_connections_refused_total counter$/m)
  t.match(text, /^gateway_connections_refused_total\{code="GATEWAY_TOKEN_MISSING"\} 1$/m)
  t.match(text, /^gateway_process_cpu_user_seconds_total /m, 'default process metrics, prefixed')
})

/** Starts a gateway that must refuse to start; answers its exit code and output. */
async function refusesToStart (env: Record<string, string>): Promise<{ exitCode: number | null, output: string }> {
  const proc = await start({ env, waitFor: 'exit' })
  return { exitCode: proc.child.exitCode, output: proc.output() }
}

const badConfigs: Array<[string, Record<string, string>, string, string?]> = [
  // startService turns PORT into Number(PORT), so 'abc' arrives as 'NaN': not an integer either way.
  ['PORT=abc', { PORT: 'abc' }, 'PORT'],
  ['PORT=70000', { PORT: '70000' }, 'PORT'],
  ["TRAINING_URLS='ftp://x'", { TRAINING_URLS: 'ftp://x' }, 'TRAINING_URLS'],
  ["TRAINING_URLS='not a url'", { TRAINING_URLS: 'not a url' }, 'TRAINING_URLS'],
  ["TRAINING_URLS=' , '", { TRAINING_URLS: ' , ' }, 'TRAINING_URLS'],
  ['HEARTBEAT_INTERVAL_MS=1', { HEARTBEAT_INTERVAL_MS: '1' }, 'HEARTBEAT_INTERVAL_MS'],
  ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ['JWT_SECRET too short', { JWT_SECRET: 'short' }, 'JWT_SECRET'],
  ['JWT_ALGORITHMS=none', { JWT_ALGORITHMS: 'none' }, 'JWT_ALGORITHMS'],
  // Empty counts as unset: refused for being absent in production, not for being too short.
  ['NODE_ENV=production without JWT_SECRET', { NODE_ENV: 'production', JWT_SECRET: '' }, 'JWT_SECRET', 'must be set when NODE_ENV=production']
]

// Two at a time: each is a whole process start, and the other test files start processes too.
const outcomes = (async () => {
  const results: Array<{ exitCode: number | null, output: string }> = []
  for (let i = 0; i < badConfigs.length; i += 2) {
    results.push(...await Promise.all(badConfigs.slice(i, i + 2).map(([, env]) => refusesToStart(env))))
  }
  return results
})()
outcomes.catch(() => {}) // each subtest awaits it and reports a failure there

for (const [i, [name, , variable, message]] of badConfigs.entries()) {
  t.test(`${name}: exits non-zero, naming ${variable}`, async t => {
    const { exitCode, output } = (await outcomes)[i] as { exitCode: number | null, output: string }
    t.not(exitCode, null, 'the process exited')
    t.not(exitCode, 0, 'with a non-zero code')
    t.match(output, variable, 'the message names the variable')
    t.match(output, 'invalid configuration')
    if (message !== undefined) t.match(output, message)
  })
}

t.test('an empty JWT_SECRET outside production counts as unset: the development secret, with a warning', async t => {
  const gateway = await start({ env: { JWT_SECRET: '', TRAINING_URLS: deadUrl }, waitFor: 'health' })
  t.equal((await fetch(`${gateway.url}/health`)).status, 200, 'started')
  t.match(gateway.output(), 'JWT_SECRET is not set')
})

t.test('an empty variable takes its default', async t => {
  const gateway = await start({ env: { HEARTBEAT_INTERVAL_MS: '', LOG_LEVEL: '', TRAINING_URLS: deadUrl }, waitFor: 'health' })
  t.equal((await fetch(`${gateway.url}/health`)).status, 200, 'started with the defaults')
})
