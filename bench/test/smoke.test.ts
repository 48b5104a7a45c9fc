/**
 * The bench harness end to end at a tiny size, so that `pnpm bench` keeps
 * working: every scenario kind connects its clients and delivers every event,
 * and the report is written. Its numbers are not checked (speed is the
 * bench's to print, not a test's to assert).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { ScenarioResult } from '../src/run.ts'

const run = promisify(execFile)

t.test('pnpm bench at a tiny size: every kind of scenario delivers everything and writes its report', async t => {
  const out = await mkdtemp(join(tmpdir(), 'bench-smoke-'))
  t.teardown(() => rm(out, { recursive: true, force: true }))
  const only = ['bare-100x1', 'direct-100x1', 'gateway-100x1', 'gateway-burst-100x1']
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/run.ts', '--clients', '100', '--duration', '1', '--rate', '50', '--burst', '50',
    '--only', only.join(','), '--out', out], { cwd: new URL('..', import.meta.url), timeout: 120_000 })
  const files = await readdir(out)
  const json = files.find(f => f.endsWith('.json'))
  t.ok(json !== undefined && files.includes(json.replace(/\.json$/, '.md')), `a JSON and a markdown report: ${files.join(', ')}`)
  const report = JSON.parse(await readFile(join(out, json as string), 'utf8')) as { machine: { cores: number }, results: ScenarioResult[] }
  t.ok(report.machine.cores > 0, 'the machine is recorded')
  t.same(report.results.map(r => r.scenario.name), only, 'each scenario ran')
  for (const r of report.results) {
    t.equal(r.connect.connected, 100, `${r.scenario.name}: every client connected`)
    t.ok(r.expected > 0, `${r.scenario.name}: events were published`)
    t.equal(r.delivered, r.expected, `${r.scenario.name}: every delivery arrived (${r.delivered})`)
    t.equal(r.latency.count, r.delivered, `${r.scenario.name}: a latency for each delivery`)
    t.equal(r.unexpectedCloses, 0, `${r.scenario.name}: no client was dropped`)
  }
  t.match(stdout, /\| gateway-100x1 \|/, 'the table is printed')
})
