/**
 * A command run as a user runs it, its stdout and stderr kept apart: for
 * what a process says (one line, no stack trace, pretty or JSON), which
 * startService's merged output cannot tell.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { reapOnExit, within } from '@training-live/test-kit'

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
export const GATEWAY_DIR = `${ROOT}services/gateway`

export interface Run {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  /**
   * The exit code, once the process has exited and every process that
   * shares its stdout and stderr (its children) has closed them.
   */
  closed: Promise<number | null>
  /** Resolves when stdout and stderr together match `pattern`; rejects if the process ends first. */
  until: (pattern: RegExp, what: string, timeoutMs?: number) => Promise<void>
}

export function run (command: string, args: string[], options: { cwd: string, env: NodeJS.ProcessEnv, detached?: boolean }): Run {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: options.detached ?? false, stdio: 'pipe' })
  reapOnExit(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const closed = once(child, 'close').then(([code]) => code as number | null)
  const until = async (pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> => {
    let check = (): void => {}
    const seen = new Promise<void>((resolve, reject) => {
      check = () => { if (pattern.test(out + err)) resolve() }
      child.stdout.on('data', check)
      child.stderr.on('data', check)
      closed.then(() => reject(new Error(`the process ended before ${what}:\n${out}${err}`)), reject)
      check()
    })
    try {
      await within(seen, timeoutMs, `${what}:\n${out}${err}`)
    } finally {
      child.stdout.off('data', check)
      child.stderr.off('data', check)
    }
  }
  return { child, stdout: () => out, stderr: () => err, closed, until }
}

/** `command` (a shell command line) on a pseudo-terminal, as in a terminal window: util-linux `script`. */
export function runOnTerminal (command: string, options: { cwd: string, env: NodeJS.ProcessEnv }): Run {
  return run('script', ['-qec', command, '/dev/null'], options)
}

/** Ctrl-C, typed on the terminal of a runOnTerminal process. */
export function pressCtrlC (r: Run): void {
  r.child.stdin.write('\x03')
}

/** Text without terminal colour codes. */
export function plain (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '')
}

/** The non-empty lines of `text`. */
export function lines (text: string): string[] {
  return text.split(/\r?\n/).filter(line => line !== '')
}

export function isJson (line: string): boolean {
  try {
    JSON.parse(line)
    return true
  } catch {
    return false
  }
}
