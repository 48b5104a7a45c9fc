/**
 * Every check of the deployment files, over paths a test can point at
 * broken copies. Returns the problems (none means valid) and what was seen.
 */
import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { validateCompose } from './compose.ts'
import { dashboardQueries } from './dashboard.ts'
import { checkDockerfile, type DockerfileInput } from './dockerfiles.ts'
import { PROMETHEUS_SERIES } from './exported-metrics.ts'
import { checkReferences } from './kubernetes-references.ts'
import { KUBERNETES_VERSION, validateSchemas } from './kubernetes-schemas.ts'
import { kustomizeBuild, KustomizeError, type Manifest } from './kustomize.ts'
import type { Problem } from './problem.ts'
import { parseQuery } from './promql.ts'
import { promtool, readRuleGroups, RulesError } from './rules.ts'

export interface CheckInput {
  dockerfiles: DockerfileInput[]
  compose: { file: string, envFile: string }
  kustomizations: string[]
  prometheusRule: string
  rulesTest: string
  dashboard: string
  /** The names the services export (see exportedMetricNames). */
  exportedMetrics: Set<string>
}

export interface CheckReport {
  problems: Problem[]
  notes: string[]
}

const rel = (p: string) => relative(process.cwd(), p) || '.'

export async function checkDeployment (input: CheckInput): Promise<CheckReport> {
  const problems: Problem[] = []
  const notes: string[] = []

  for (const d of input.dockerfiles) {
    for (const p of await checkDockerfile(d)) problems.push({ file: rel(d.file), ...p })
  }
  notes.push(`${input.dockerfiles.map(d => rel(d.file)).join(', ')}: dockerfile-utils, stages, user, health check, exec form`)

  problems.push(...await validateCompose(input.compose))
  notes.push(`${rel(input.compose.file)}: Compose specification schema, with ${rel(input.compose.envFile)}`)

  for (const dir of input.kustomizations) {
    let manifests: Manifest[]
    try {
      manifests = await kustomizeBuild(dir)
    } catch (err) {
      if (!(err instanceof KustomizeError)) throw err
      problems.push({ file: rel(dir), where: '', message: `kustomize build failed: ${err.message}` })
      continue
    }
    const at = (m: Manifest) => `${m.kind}/${m.metadata?.name ?? '?'}`
    const { problems: schemaProblems, unchecked } = await validateSchemas(manifests)
    for (const p of schemaProblems) problems.push({ file: rel(dir), where: at(p.manifest), message: p.message })
    for (const p of checkReferences(manifests)) problems.push({ file: rel(dir), where: at(p.manifest), message: p.message })
    notes.push(`${rel(dir)}: ${manifests.length} objects against Kubernetes ${KUBERNETES_VERSION} schemas and types` +
      (unchecked.length === 0 ? '' : `; no schema available for ${unchecked.map(at).join(', ')} (references only)`))
  }

  const queries: Array<{ file: string, where: string, expr: string }> = []
  try {
    const groups = await readRuleGroups(input.prometheusRule)
    for (const g of groups) for (const r of g.rules) queries.push({ file: rel(input.prometheusRule), where: `${g.name}/${r.alert ?? r.record ?? '?'}`, expr: r.expr })
    notes.push(`${rel(input.prometheusRule)}: ${await promtool(groups, input.rulesTest)}`.replace(/\n/g, ' '))
  } catch (err) {
    if (!(err instanceof RulesError)) throw err
    problems.push({ file: rel(input.prometheusRule), where: '', message: err.message })
  }
  try {
    const dashboard = JSON.parse(await readFile(input.dashboard, 'utf8')) as unknown
    for (const q of dashboardQueries(dashboard)) queries.push({ file: rel(input.dashboard), where: `panel "${q.panel}"`, expr: q.expr })
  } catch (err) {
    problems.push({ file: rel(input.dashboard), where: '', message: (err as Error).message })
  }

  const recorded = new Set<string>()
  for (const q of queries) {
    const { metrics, error } = parseQuery(q.expr)
    if (error !== null) { problems.push({ file: q.file, where: q.where, message: error }); continue }
    for (const name of metrics) {
      if (!input.exportedMetrics.has(name) && !PROMETHEUS_SERIES.has(name)) problems.push({ file: q.file, where: q.where, message: `${name} is not a metric the services export` })
      else recorded.add(name)
    }
  }
  notes.push(`${queries.length} queries name ${recorded.size} metrics, each exported by the services`)
  return { problems, notes }
}
