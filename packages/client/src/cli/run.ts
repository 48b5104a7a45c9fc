/**
 * The terminal watcher, with its process plumbing passed in (watch.ts wires
 * the real one), so that it can be run and checked in process too.
 */
import WebSocket from 'ws'
import { watchJob } from '../watch-job.ts'
import type { WebSocketConstructor } from '../socket.ts'
import type { WatchError } from '../watch-error.ts'
import { USAGE, UsageError, parseWatchArgs, type WatchArgs } from './args.ts'
import { devTokenSource } from './dev-token.ts'
import { ProgressScreen, progressLine, type Output } from './progress-line.ts'
import { retryLine } from './retry-line.ts'

/** The usage's first line: enough to fix a mistyped command. */
const USAGE_LINE = USAGE.slice(0, USAGE.indexOf('\n'))

export const EXIT = { Completed: 0, Failed: 1, Usage: 2, Interrupted: 130 } as const

export interface RunOptions {
  argv: string[]
  env: Record<string, string | undefined>
  stdout: Output
  stderr: Output
  /** Aborted on Ctrl-C: the watch is closed and the exit code is 130. */
  signal?: AbortSignal
  /** Default `ws`. */
  WebSocket?: WebSocketConstructor
}

/** Watches the job the arguments name until it ends; resolves with the process' exit code. */
export async function runWatch (options: RunOptions): Promise<number> {
  const { stdout, stderr } = options
  let args: WatchArgs
  try {
    args = parseWatchArgs(options.argv, options.env)
  } catch (err) {
    // Only UsageErrors come from parsing.
    stderr.write(`watch: ${(err as UsageError).message}\n${USAGE_LINE}\nRun with --help for more.\n`)
    return EXIT.Usage
  }
  if (args.help) {
    stdout.write(USAGE)
    return EXIT.Completed
  }
  const token = args.token
  const getToken = token === undefined ? await devTokenSource(args.tenantId, options.env) : () => token
  let watch
  try {
    watch = watchJob({
      baseUrl: args.url,
      tenantId: args.tenantId,
      jobId: args.jobId,
      getToken,
      WebSocket: options.WebSocket ?? WebSocket
    })
  } catch (err) {
    stderr.write(`watch: ${(err as Error).message}\n`)
    return EXIT.Usage
  }
  stdout.write(`watching ${args.tenantId}/${args.jobId} through ${args.url}\n`)
  const screen = new ProgressScreen(stdout)
  const draw = (): void => screen.draw(progressLine(watch.state, watch.connection))
  watch.on('state', draw)
  watch.on('connection', draw)
  watch.on('retry', info => {
    // A line drawn in place on a terminal is left as it is, so that the message goes under it, not into it.
    screen.finish()
    stderr.write(`${retryLine(args.url, info)}\n`)
  })
  const interrupt = (): void => watch.close()
  const signal = options.signal
  signal?.addEventListener('abort', interrupt, { once: true })
  if (signal?.aborted === true) watch.close()
  const outcome = await watch.done.then(view => ({ view }), (error: WatchError) => ({ error }))
  signal?.removeEventListener('abort', interrupt)
  screen.finish()
  if ('error' in outcome) {
    stderr.write(`watch: gave up (${outcome.error.code}): ${outcome.error.message}\n`)
    return EXIT.Failed
  }
  const { view } = outcome
  if (view.status === 'completed') {
    stdout.write('job completed\n')
    return EXIT.Completed
  }
  if (view.status === 'failed') {
    stdout.write(`job failed: ${view.error ?? 'no reason given'}\n`)
    return EXIT.Failed
  }
  // Not finished: Ctrl-C, or (against the protocol) a 1000 before the job's end.
  if (signal?.aborted === true) {
    stdout.write('stopped\n')
    return EXIT.Interrupted
  }
  stdout.write(`the server ended the watch with the job ${view.status}\n`)
  return EXIT.Failed
}
