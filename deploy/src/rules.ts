/**
 * The alert rules: a PrometheusRule (for the Prometheus operator) whose spec
 * is a Prometheus rule file. promtool (Prometheus' own checker) checks that
 * file and runs its unit tests, which show each alert firing on the series
 * it is meant for.
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { parse as parseYaml, stringify } from 'yaml'

const run = promisify(execFile)

/** The rule file is not a PrometheusRule, promtool is missing, or promtool refused the rules or their tests. */
export class RulesError extends Error {}

export interface RuleGroup { name: string, rules: Array<{ alert?: string, record?: string, expr: string }> }

export async function readRuleGroups (prometheusRuleFile: string): Promise<RuleGroup[]> {
  const doc = parseYaml(await readFile(prometheusRuleFile, 'utf8')) as { kind?: string, spec?: { groups?: RuleGroup[] } }
  if (doc.kind !== 'PrometheusRule' || !Array.isArray(doc.spec?.groups)) throw new RulesError(`${prometheusRuleFile} is not a PrometheusRule with spec.groups`)
  return doc.spec.groups
}

/** `promtool check rules` on the rule file, then `promtool test rules` on the tests beside it. */
export async function promtool (groups: RuleGroup[], testFile: string): Promise<string> {
  const promtoolPath = process.env.PROMTOOL ?? 'promtool'
  const dir = await mkdtemp(join(tmpdir(), 'rules-'))
  try {
    // The tests name the rule file `alerts.yaml` beside them.
    await writeFile(join(dir, 'alerts.yaml'), stringify({ groups }))
    await copyFile(testFile, join(dir, basename(testFile)))
    const out: string[] = []
    for (const args of [['check', 'rules', 'alerts.yaml'], ['test', 'rules', basename(testFile)]]) {
      try {
        const { stdout, stderr } = await run(promtoolPath, args, { cwd: dir })
        out.push((stdout + stderr).trim())
      } catch (err) {
        const e = err as Error & { stdout?: string, stderr?: string, code?: string }
        if (e.code === 'ENOENT') throw new RulesError('promtool is not installed (set PROMTOOL to its path)')
        throw new RulesError(`promtool ${args.join(' ')} failed:\n${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim()}`)
      }
    }
    return out.join('\n')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
