/**
 * `pnpm watch -- <tenant_id> <job_id> [--url URL] [--token TOKEN]`: a job's
 * live progress in the terminal. Ctrl-C closes the watch (no socket, no
 * timer left), so the process ends on its own with 130.
 */
import { runWatch } from './run.ts'

const interrupted = new AbortController()
process.once('SIGINT', () => interrupted.abort())
process.exitCode = await runWatch({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupted.signal
})
