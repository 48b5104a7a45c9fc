/**
 * Each built manifest against the Kubernetes 1.27 JSON schemas (the
 * kubernetes-models package, and its prometheus-operator companion for
 * ServiceMonitor and PrometheusRule), then once more through the same
 * package's TypeScript types: the schemas let unknown fields through, and
 * an object literal with a field its type lacks is a compile error, so a
 * misspelt field (`readinessProbes`) fails here as it would on `kubectl apply
 * --validate=strict`.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import type { Manifest } from './kustomize.ts'

export const KUBERNETES_VERSION = '1.27'

/** Kinds whose schema is in no package the project can install; checked by the references only. */
const NO_SCHEMA = new Set(['rabbitmq.com/v1beta1/RabbitmqCluster'])

function modulePath (apiVersion: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`
  return `kubernetes-models/${apiVersion}`
}

export interface SchemaResult {
  problems: Array<{ manifest: Manifest, message: string }>
  /** Manifests of a kind in NO_SCHEMA. */
  unchecked: Manifest[]
}

interface Model { validate: () => void }
type ModelClass = new (data: unknown) => Model

async function modelOf (m: Manifest): Promise<ModelClass | undefined> {
  try {
    const mod = await import(modulePath(m.apiVersion)) as Record<string, ModelClass | undefined>
    return mod[m.kind]
  } catch {
    return undefined
  }
}

export async function validateSchemas (manifests: Manifest[]): Promise<SchemaResult> {
  const result: SchemaResult = { problems: [], unchecked: [] }
  const typed: Manifest[] = []
  for (const m of manifests) {
    if (NO_SCHEMA.has(`${m.apiVersion}/${m.kind}`)) { result.unchecked.push(m); continue }
    const Model = await modelOf(m)
    if (Model === undefined) {
      result.problems.push({ manifest: m, message: `no Kubernetes ${KUBERNETES_VERSION} schema for ${m.apiVersion} ${m.kind}` })
      continue
    }
    try {
      new Model(m).validate()
      typed.push(m)
    } catch (err) {
      result.problems.push({ manifest: m, message: (err as Error).message })
    }
  }
  for (const p of checkFieldNames(typed)) result.problems.push(p)
  return result
}

/** Compiles `const m: I<Kind> = <manifest>` for each manifest; every diagnostic is a problem of that manifest. */
function checkFieldNames (manifests: Manifest[]): Array<{ manifest: Manifest, message: string }> {
  if (manifests.length === 0) return []
  // Virtual files beside this package's node_modules, so the imports resolve.
  const dir = fileURLToPath(new URL('../', import.meta.url))
  const files = new Map<string, { text: string, manifest: Manifest }>()
  manifests.forEach((m, i) => {
    const file = join(dir, `__manifest_${i}.ts`)
    const text = `import type { I${m.kind} } from '${modulePath(m.apiVersion)}/${m.kind}'\nexport const manifest: I${m.kind} = ${JSON.stringify(m, null, 2)}\n`
    files.set(file, { text, manifest: m })
  })
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: []
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version, ...rest) => {
    const own = files.get(name)
    return own !== undefined ? ts.createSourceFile(name, own.text, version, true) : getSourceFile(name, version, ...rest)
  }
  const fileExists = host.fileExists.bind(host)
  host.fileExists = name => files.has(name) || fileExists(name)
  const readFile = host.readFile.bind(host)
  host.readFile = name => files.get(name)?.text ?? readFile(name)
  const program = ts.createProgram([...files.keys()], options, host)
  const out: Array<{ manifest: Manifest, message: string }> = []
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const own = d.file === undefined ? undefined : files.get(d.file.fileName)
    if (own === undefined) continue
    const path = d.start === undefined || d.file === undefined ? '' : jsonPathAt(d.file, d.start)
    out.push({ manifest: own.manifest, message: `${path === '' ? '' : `${path}: `}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` })
  }
  return out
}

/** The property path (`spec.template.spec.containers[0]`) of the node at `pos` in a generated file. */
function jsonPathAt (file: ts.SourceFile, pos: number): string {
  const parts: string[] = []
  let node: ts.Node | undefined = findNode(file, pos)
  while (node !== undefined) {
    const parent: ts.Node | undefined = node.parent
    if (parent !== undefined && ts.isPropertyAssignment(parent) && parent.initializer === node) parts.unshift(parent.name.getText(file).replace(/^"|"$/g, ''))
    else if (ts.isPropertyAssignment(node) && parts.length === 0) parts.unshift(node.name.getText(file).replace(/^"|"$/g, ''))
    if (parent !== undefined && ts.isArrayLiteralExpression(parent)) parts.unshift(`[${parent.elements.indexOf(node as ts.Expression)}]`)
    node = parent
  }
  return parts.join('.').replace(/\.\[/g, '[')
}

function findNode (node: ts.Node, pos: number): ts.Node {
  for (const child of node.getChildren()) {
    if (child.getStart() <= pos && pos < child.getEnd()) return findNode(child, pos)
  }
  return node
}
