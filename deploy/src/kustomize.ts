/** Builds a kustomization with kubectl's kustomize, as `kubectl apply -k` would. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'

const run = promisify(execFile)

export interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string> }
  [key: string]: unknown
}

export class KustomizeError extends Error {}

export async function kustomizeBuild (dir: string): Promise<Manifest[]> {
  let stdout: string
  let stderr: string
  try {
    ({ stdout, stderr } = await run(process.env.KUBECTL ?? 'kubectl', ['kustomize', dir], { maxBuffer: 64 * 1024 * 1024 }))
  } catch (err) {
    const e = err as Error & { stderr?: string, code?: string }
    if (e.code === 'ENOENT') throw new KustomizeError('kubectl is not installed (it builds the kustomizations; set KUBECTL to its path)')
    throw new KustomizeError((e.stderr ?? e.message).trim())
  }
  // Deprecation warnings come on stderr with a successful build: they count as problems too.
  if (stderr.trim() !== '') throw new KustomizeError(`warnings: ${stderr.trim()}`)
  return parseAllDocuments(stdout).map(d => d.toJS() as Manifest).filter(m => m !== null)
}
