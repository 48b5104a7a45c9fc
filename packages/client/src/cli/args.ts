/**
 * The watcher's command line: `<tenant_id> <job_id> [--url URL] [--token T]`,
 * refused with a UsageError that names what is wrong (the watcher exits 2).
 */
import { parseArgs } from 'node:util'

/** Arguments the watcher cannot run with (it exits 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface WatchArgs {
  tenantId: string
  jobId: string
  /** The gateway's base URL. */
  url: string
  /** A token to use as is; without one, a development token is signed for each connection. */
  token?: string
  help: boolean
}

export const DEFAULT_URL = 'ws://127.0.0.1:8000'

export const USAGE = `Usage: pnpm watch -- <tenant_id> <job_id> [--url URL] [--token TOKEN]

Shows a training job's live progress until it ends: a progress bar, the
percentage, products done, status, connection state and current step.
While the gateway cannot be reached, each failed attempt is told on stderr
with its reason, and the watch goes on trying.

Options:
  --url URL      the gateway (default: GATEWAY_URL, else ${DEFAULT_URL})
  --token TOKEN  the JWT to connect with (default: a token for the tenant signed
                 with JWT_SECRET, else the services' development secret)
  --help         show this help

Exit codes: 0 the job completed, 1 it failed or the watch gave up,
2 bad arguments, 130 stopped with Ctrl-C.
`

export function parseWatchArgs (argv: string[], env: Record<string, string | undefined>): WatchArgs {
  let parsed
  try {
    parsed = parseArgs({
      // pnpm hands on the `--` that separates its own options from the script's.
      args: argv.filter(a => a !== '--'),
      options: { url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) return { tenantId: '', jobId: '', url: DEFAULT_URL, help: true }
  if (positionals.length !== 2) throw new UsageError(`expected <tenant_id> <job_id>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`)
  const [tenantId, jobId] = positionals as [string, string]
  const args: WatchArgs = { tenantId, jobId, url: values.url ?? (env.GATEWAY_URL || DEFAULT_URL), help: false }
  if (values.token !== undefined) {
    if (values.token === '') throw new UsageError('--token must not be empty')
    args.token = values.token
  }
  return args
}
