/**
 * The CLI as the container starts it (`node --import tsx src/cli.ts`):
 * exit codes, the JSON lines it prints, and a clean stop on SIGTERM in
 * --repeat mode.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { AMQP_URL, deleteTopology, freePort, reapOnExit, testTopology, uniqueId, within } from '@training-live/test-kit'

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
const topology = testTopology('simcli')

t.teardown(() => deleteTopology(topology))

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Lines of stdout parsed as JSON. */
  lines: () => Array<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

function start (args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: PACKAGE_DIR,
    env: {
      // Only what the CLI reads, as in a container.
      PATH: process.env.PATH ?? '',
      AMQP_URL,
      AMQP_EXCHANGE: topology.exchange,
      // tap hooks spawned processes to collect their coverage too, but the child compiles the sources
      // with tsx, whose output does not line up with tap's own and garbles the merged figures. So the
      // CLI is judged by its behaviour here, and coverage is that of the modules tested in process.
      _TAPJS_PROCESSINFO_COVERAGE_: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  reapOnExit(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    lines: () => out.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>),
    exited
  }
}

async function finished (run: Run): Promise<number | null> {
  return (await within(run.exited, 60_000, 'the CLI to exit')).code
}

t.test('a bad argument: exit 2 and a message naming the option', async t => {
  for (const [args, flag] of [[['--jobs', 'many'], '--jobs'], [['--fail-ratio', '1.5'], '--fail-ratio'], [['--nope'], '--nope']] as const) {
    const run = start([...args])
    t.equal(await finished(run), 2, args.join(' '))
    t.match(run.stderr(), new RegExp(`^simulate: .*${flag}.*\\nRun with --help for the options\\.\\n$`))
    t.equal(run.stdout(), '')
  }
})

t.test('--help: the options, exit 0', async t => {
  const run = start(['--help'])
  t.equal(await finished(run), 0)
  t.match(run.stdout(), /^Usage: simulate \[options\]/)
  for (const flag of ['--jobs', '--products', '--rate', '--fail-ratio', '--tenant', '--seed', '--repeat', 'AMQP_URL', 'AMQP_EXCHANGE']) t.match(run.stdout(), flag)
})

t.test('a short run: one line per finished job, then the summary, exit 0', async t => {
  const prefix = uniqueId('job')
  const run = start(['--jobs', '3', '--products', '4', '--rate', '200', '--fail-ratio', '0.34', '--seed', '3', '--tenant', 'tenant_cli', '--job-prefix', prefix])
  t.equal(await finished(run), 0, run.stderr())
  const lines = run.lines()
  const jobs = lines.filter(l => l.msg === 'job finished')
  t.equal(jobs.length, 3)
  t.same(jobs.map(l => l.job_id).sort(), [1, 2, 3].map(n => `${prefix}_${n}`))
  t.ok(jobs.every(l => l.tenant_id === 'tenant_cli' && l.batch === 1 && typeof l.duration_ms === 'number' && typeof l.time === 'string'))
  t.same(jobs.map(l => l.outcome).sort(), ['completed', 'completed', 'failed'])
  t.match(lines.at(-1), { msg: 'summary', batch: 1, tenant_id: 'tenant_cli', seed: 3, jobs: 3, completed: 2, failed: 1, stopped: 0, events: Number })
  t.equal(lines.length, 4)
})

t.test('--repeat: batch after batch until SIGTERM, then a clean stop and exit 0', async t => {
  const prefix = uniqueId('job')
  const run = start(['--repeat', '--jobs', '2', '--products', '40', '--rate', '100', '--seed', '10', '--job-prefix', prefix])
  // The first batch (86 events at 100/s) ends after about a second; stop the second one part way.
  for (;;) {
    const lines = run.lines()
    if (lines.some(l => l.msg === 'job finished' && l.batch === 2)) throw new Error('the second batch ended before the signal')
    if (lines.some(l => l.msg === 'summary' && l.batch === 1)) break
    if (run.child.exitCode !== null) throw new Error(`exited early: ${run.stderr()}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  await new Promise(resolve => setTimeout(resolve, 200))
  run.child.kill('SIGTERM')
  t.equal(await finished(run), 0, run.stderr())
  const lines = run.lines()
  const summaries = lines.filter(l => l.msg === 'summary')
  t.match(summaries, [
    { batch: 1, seed: 10, completed: 2, stopped: 0 },
    { batch: 2, seed: 11, completed: 0, stopped: 2 }
  ])
  const second = lines.filter(l => l.msg === 'job finished' && l.batch === 2)
  t.same(second.map(l => [l.job_id, l.outcome]).sort(), [[`${prefix}-2_1`, 'stopped'], [`${prefix}-2_2`, 'stopped']])
  t.match(lines.find(l => l.msg === 'stopping'), { signal: 'SIGTERM' })
  t.match(lines.at(-1), { msg: 'stopped', signal: 'SIGTERM', batches: 2 })
})

t.test('no broker: exit 1 with the reason', async t => {
  const run = start(['--jobs', '1'], { AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}` })
  t.equal(await finished(run), 1)
  t.match(run.stderr(), /"msg":"simulation failed".*ECONNREFUSED/)
})
