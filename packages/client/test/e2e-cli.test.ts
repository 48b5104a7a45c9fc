/**
 * The terminal watcher as a user runs it (`pnpm watch` runs this same
 * command), as a child process against a real gateway: its output and exit
 * code for a job that completes, one that fails, and Ctrl-C.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { FailedEvent } from '@training-live/events'
import { TEST_SECRET, freePort, jobEvents, reapOnExit, startService, uniqueId, within } from '@training-live/test-kit'
import { publishJob, startStack, until } from './helpers/stack.ts'

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
const s = await startStack(t, 'client-cli', { replicas: 1, gateways: 1 })
const gateway = s.gateways[0] as typeof s.gateways[0]

function watcher (tenantId: string, jobId: string, url = gateway.wsUrl) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/watch.ts', '--', tenantId, jobId, '--url', url], {
    cwd: PACKAGE_DIR,
    // No --token: it signs its own with JWT_SECRET, the secret the test services share.
    env: {
      PATH: process.env.PATH ?? '',
      JWT_SECRET: TEST_SECRET,
      // As in the simulator's CLI test: the child's tsx-compiled coverage would garble tap's figures.
      _TAPJS_PROCESSINFO_COVERAGE_: '0'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  reapOnExit(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, stdout: () => stdout, stderr: () => stderr, exit: async () => await within(exited, 60_000, 'the watcher to exit') }
}

/** Started and connected: it drew the line with the socket open. */
async function connected (w: ReturnType<typeof watcher>, timeoutMs = 20_000): Promise<void> {
  await until('the watcher to connect', () => / open$/m.test(w.stdout()), timeoutMs)
}

t.test('a short job that completes: a line per change, ending at 100 %, exit 0', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const w = watcher(tenantId, jobId)
  await connected(w)
  await publishJob(s.publisher, jobEvents(tenantId, jobId, ['a', 'b', 'c', 'd']), 30)
  t.equal(await w.exit(), 0, w.stderr())
  const lines = w.stdout().trimEnd().split('\n')
  t.equal(lines[0], `watching ${tenantId}/${jobId} through ${gateway.wsUrl}`)
  t.match(lines, ['watching', /0% {2}0\/\? products {2}pending {2}open$/])
  t.ok(lines.some(l => /\[####\.+\] {2}20% {2}0\/4 products {2}running {2}open {2}Data Analysis$/.test(l)), 'data analysis at 20 %')
  t.ok(lines.some(l => /\[#{13}\.{7}\] {2}65% {2}3\/4 products {2}running {2}open {2}Trained c$/.test(l)), 'three products of four at 65 %')
  t.match(lines.at(-2), /^\[#{20}\] 100% {2}4\/4 products {2}completed {2}closed {2}Trained d$/)
  t.equal(lines.at(-1), 'job completed')
})

t.test('a job that fails: its error, exit 1', async t => {
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const w = watcher(tenantId, jobId)
  await connected(w)
  // Started, data analysis, one product of two; then the failure.
  const events = jobEvents(tenantId, jobId, ['a', 'b']).slice(0, 3)
  const failure: FailedEvent = {
    event_id: uniqueId('evt'), type: 'training.failed', tenant_id: tenantId, job_id: jobId, timestamp: new Date().toISOString(), data: { error: 'GPU out of memory' }
  }
  await publishJob(s.publisher, [...events, failure], 30)
  t.equal(await w.exit(), 1)
  t.match(w.stdout(), /\n\[#+\.+\] {2}50% {2}1\/2 products {2}failed {2}closed {2}Trained a\njob failed: GPU out of memory\n$/)
})

t.test('Ctrl-C: the watch closes cleanly and the process exits 130 on its own', async t => {
  const w = watcher(uniqueId('tenant'), uniqueId('job'))
  await connected(w)
  w.child.kill('SIGINT')
  t.equal(await w.exit(), 130, 'no socket or timer kept it alive')
  t.match(w.stdout(), /closed\nstopped\n$/)
  t.equal(w.stderr(), '')
})

t.test('a stopped stack: "cannot reach …: connection refused" at each attempt, then the job once a gateway starts there', async t => {
  const port = String(await freePort())
  const url = `ws://127.0.0.1:${port}`
  const tenantId = uniqueId('tenant')
  const jobId = uniqueId('job')
  const w = watcher(tenantId, jobId, url)
  const refusals = (): string[] => w.stderr().split('\n').filter(l => l.startsWith(`cannot reach ${url}: `))
  await until('two refused attempts', () => refusals().length >= 2)
  for (const line of refusals()) t.match(line, new RegExp(`^cannot reach ${url.replace(/[./]/g, '\\$&')}: connection refused; retrying in \\d+(\\.\\d)? s$`))
  t.equal(w.stdout(), `watching ${tenantId}/${jobId} through ${url}\n`, 'no progress line while nothing answers')

  // The stack comes up where the watcher looks: a gateway on that port, in front of the running training service.
  const late = await startService('gateway', { env: { PORT: port, TRAINING_URLS: (s.replicas[0] as typeof s.replicas[0]).url } })
  t.teardown(() => late.stop())
  // The back-off may have grown to several seconds while the gateway started.
  await connected(w, 60_000)
  await publishJob(s.publisher, jobEvents(tenantId, jobId, ['a', 'b']), 30)
  t.equal(await w.exit(), 0, w.stderr())
  t.match(w.stdout(), /100% {2}2\/2 products {2}completed {2}closed {2}Trained b\njob completed\n$/)
  t.notMatch(w.stderr(), /gave up/)
})

t.test('a usage error: the program\'s own message on stderr, exit 2', async t => {
  const w = watcher(uniqueId('tenant'), uniqueId('job'), 'ftp://gateway.test')
  t.equal(await w.exit(), 2)
  t.match(w.stderr(), /^watch: /)
  t.equal(w.stdout(), '')
})
