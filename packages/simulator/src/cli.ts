/**
 * The simulator's command line; `--help` lists the options. Runs one batch,
 * or with --repeat one batch after another until SIGTERM or SIGINT, then
 * stops the batch under way (its running jobs are failed, so no watcher waits
 * forever), closes the publisher once everything is confirmed, and exits 0.
 */
import { createPublisher } from '@training-live/events/publisher'
import { USAGE, UsageError, parseCliArgs, type CliConfig } from './args.ts'
import { MAX_SEED } from './random.ts'
import { simulate, type JobResult, type SimulationSummary } from './simulate.ts'

const SIGNALS = ['SIGTERM', 'SIGINT'] as const

function log (msg: string, fields: Record<string, unknown>, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`)
}

function jobLine (batch: number, job: JobResult): Record<string, unknown> {
  return {
    batch,
    tenant_id: job.tenantId,
    job_id: job.jobId,
    outcome: job.outcome,
    products_completed: job.productsCompleted,
    total_products: job.totalProducts,
    events: job.events,
    duration_ms: job.durationMs
  }
}

function summaryLine (batch: number, s: SimulationSummary): Record<string, unknown> {
  return {
    batch,
    tenant_id: s.tenantId,
    seed: s.seed,
    jobs: s.jobs.length,
    completed: s.completed,
    failed: s.failed,
    stopped: s.stopped,
    not_started: s.notStarted,
    events: s.events,
    duration_ms: s.durationMs,
    events_per_second: s.eventsPerSecond
  }
}

async function run (config: CliConfig): Promise<number> {
  const { settings } = config
  const controller = new AbortController()
  let stoppedBy: string | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy !== undefined) {
      // A second signal: the operator does not want to wait for the confirms.
      log('forced stop', { signal }, process.stderr)
      process.exit(1)
    }
    stoppedBy = signal
    log('stopping', { signal })
    controller.abort()
  }
  for (const signal of SIGNALS) process.on(signal, onSignal)

  let batch = 0
  try {
    const publisher = await createPublisher({ url: config.url, exchange: config.exchange })
    try {
      do {
        batch++
        const summary = await simulate({
          ...settings,
          // Each batch its own plans and job ids, still reproducible from the seed printed.
          seed: (settings.seed + batch - 1) % (MAX_SEED + 1),
          jobIdPrefix: config.repeat ? `${settings.jobIdPrefix}-${batch}` : settings.jobIdPrefix,
          publisher,
          signal: controller.signal,
          onJobFinished: job => log('job finished', jobLine(batch, job))
        })
        log('summary', summaryLine(batch, summary))
      } while (config.repeat && !controller.signal.aborted)
    } finally {
      await publisher.close()
    }
  } catch (err) {
    log('simulation failed', { batch, error: (err as Error).message }, process.stderr)
    return 1
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal)
  }
  if (stoppedBy !== undefined) log('stopped', { signal: stoppedBy, batches: batch })
  return 0
}

async function main (argv: string[]): Promise<number> {
  let config: CliConfig
  try {
    config = parseCliArgs(argv, process.env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`simulate: ${err.message}\nRun with --help for the options.\n`)
    return 2
  }
  if (config.help) {
    process.stdout.write(USAGE)
    return 0
  }
  return await run(config)
}

process.exitCode = await main(process.argv.slice(2))
