/**
 * The CLI's arguments and environment, turned into settings or refused with a
 * UsageError that names the option (the CLI exits 2 on it).
 */
import { parseArgs } from 'node:util'
import { EXCHANGE } from '@training-live/events'
import { DEFAULT_SETTINGS, checkSettings, withDefaults, type OptionError, type SimulationSettings } from './options.ts'

export class UsageError extends Error {
  readonly code = 'SIMULATOR_USAGE'
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface CliConfig {
  settings: SimulationSettings
  /** Start a new batch whenever one ends, until SIGTERM or SIGINT. */
  repeat: boolean
  help: boolean
  url: string
  exchange: string
}

/** The flag of each setting, for messages. */
export const FLAGS: Record<keyof SimulationSettings, string> = {
  tenantId: '--tenant',
  jobs: '--jobs',
  products: '--products',
  rate: '--rate',
  failRatio: '--fail-ratio',
  seed: '--seed',
  jobIdPrefix: '--job-prefix'
}

/** The same defaults as the services. */
const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

export const USAGE = `Usage: simulate [options]

Trains simulated jobs of products in parallel and publishes their training.*
events to RabbitMQ; one JSON line per finished job, then a summary line.

Options:
  --jobs N          jobs per batch (default ${DEFAULT_SETTINGS.jobs})
  --products N      products per job (default ${DEFAULT_SETTINGS.products})
  --rate R          events per second over the whole batch (default ${DEFAULT_SETTINGS.rate})
  --fail-ratio F    share of the jobs that fail part way, 0 to 1 (default ${DEFAULT_SETTINGS.failRatio})
  --tenant ID       tenant id of the jobs (default ${DEFAULT_SETTINGS.tenantId})
  --seed N          seed of the plans and order, 0 to 4294967295 (default: random, printed in the summary)
  --job-prefix P    job ids are P_1, P_2, ... (default: sim_ and random hex)
  --repeat          start a new batch whenever one ends (seed + 1, prefix P-<batch>), until SIGTERM or SIGINT
  --help            show this help

Environment: AMQP_URL (default ${DEFAULT_AMQP_URL}), AMQP_EXCHANGE (default ${EXCHANGE}).
Exit codes: 0 done or stopped by a signal, 1 a publish failed, 2 bad arguments.
`

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i

function numberOf (flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!NUMBER.test(text)) throw new UsageError(`${flag} must be a number, not ${JSON.stringify(text)}`)
  return Number(text)
}

function envConfig (env: NodeJS.ProcessEnv): { url: string, exchange: string } {
  const url = env.AMQP_URL || DEFAULT_AMQP_URL
  if (!/^amqps?:\/\//.test(url)) throw new UsageError(`AMQP_URL must start with amqp:// or amqps://, not ${JSON.stringify(url)}`)
  return { url, exchange: env.AMQP_EXCHANGE || EXCHANGE }
}

const OPTIONS = {
  jobs: { type: 'string' },
  products: { type: 'string' },
  rate: { type: 'string' },
  'fail-ratio': { type: 'string' },
  tenant: { type: 'string' },
  seed: { type: 'string' },
  'job-prefix': { type: 'string' },
  repeat: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false }
} as const

function readArgs (args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values
  } catch (err) {
    // parseArgs names the offending option in its message already.
    throw new UsageError((err as Error).message)
  }
}

export function parseCliArgs (argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliConfig {
  // `pnpm simulate -- --jobs 3` hands the `--` on to the script.
  const values = readArgs(argv[0] === '--' ? argv.slice(1) : [...argv])
  if (values.help) return { settings: withDefaults({}), repeat: false, help: true, ...envConfig(env) }
  const settings = withDefaults({
    jobs: numberOf(FLAGS.jobs, values.jobs),
    products: numberOf(FLAGS.products, values.products),
    rate: numberOf(FLAGS.rate, values.rate),
    failRatio: numberOf(FLAGS.failRatio, values['fail-ratio']),
    seed: numberOf(FLAGS.seed, values.seed),
    tenantId: values.tenant,
    jobIdPrefix: values['job-prefix']
  })
  try {
    checkSettings(settings, option => FLAGS[option])
  } catch (err) {
    throw new UsageError((err as OptionError).message)
  }
  return { settings, repeat: values.repeat, help: false, ...envConfig(env) }
}
