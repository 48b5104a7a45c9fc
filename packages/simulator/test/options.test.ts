/**
 * The settings' limits and the CLI's arguments: every refusal names the option.
 */
import t from 'tap'
import { EXCHANGE } from '@training-live/events'
import { FLAGS, USAGE, UsageError, parseCliArgs } from '../src/args.ts'
import { DEFAULT_SETTINGS, LIMITS, OptionError, checkSettings, withDefaults, type SimulationSettings } from '../src/options.ts'

const valid: SimulationSettings = { tenantId: 'tenant_a', jobs: 2, products: 3, rate: 10, failRatio: 0.5, seed: 1, jobIdPrefix: 'sim_a' }

t.test('defaults: the documented ones, a fresh seed and job id prefix each time', async t => {
  const a = withDefaults({})
  const b = withDefaults({})
  t.match(a, DEFAULT_SETTINGS)
  t.match(a.jobIdPrefix, /^sim_[0-9a-f]{8}$/)
  t.not(a.jobIdPrefix, b.jobIdPrefix)
  t.doesNotThrow(() => checkSettings(a))
  t.same(withDefaults(valid), valid, 'given settings win')
})

t.test('each setting out of range is refused, naming it', async t => {
  const cases: Array<[Partial<SimulationSettings>, keyof SimulationSettings, RegExp]> = [
    [{ jobs: 0 }, 'jobs', /^jobs must be an integer from 1 to 100000, not 0$/],
    [{ jobs: 1.5 }, 'jobs', /not 1\.5/],
    [{ jobs: LIMITS.jobs, products: LIMITS.products }, 'jobs', /at most 1000000 events/],
    [{ products: -1 }, 'products', /^products must be an integer from 0/],
    [{ rate: 0 }, 'rate', /^rate must be a number of events per second above 0, not 0$/],
    [{ rate: Infinity }, 'rate', /not Infinity/],
    [{ failRatio: 1.01 }, 'failRatio', /^failRatio must be a number from 0 to 1/],
    [{ failRatio: NaN }, 'failRatio', /not NaN/],
    [{ seed: -1 }, 'seed', /^seed must be an integer from 0 to 4294967295/],
    [{ tenantId: 'a b' }, 'tenantId', /^tenantId must be an id matching .*, not "a b"$/],
    [{ jobIdPrefix: 'x'.repeat(127) }, 'jobIdPrefix', /with room for "_2"/],
    [{ jobIdPrefix: '-x' }, 'jobIdPrefix', /^jobIdPrefix must be/]
  ]
  for (const [change, option, message] of cases) {
    const err = t.throws(() => checkSettings({ ...valid, ...change })) as OptionError
    t.ok(err instanceof OptionError, `${option}: an OptionError`)
    t.equal(err.option, option)
    t.match(err.message, message)
  }
  t.match(t.throws(() => checkSettings({ ...valid, rate: -1 }, o => `--${o}`)), { message: /^--rate must/ }, 'named as the caller says')
})

t.test('CLI: flags to settings, defaults from the environment like the services', async t => {
  const config = parseCliArgs(['--jobs', '5', '--products', '0', '--rate', '2.5', '--fail-ratio', '.2', '--tenant', 't_1', '--seed', '9', '--job-prefix', 'p'])
  t.same(config.settings, { jobs: 5, products: 0, rate: 2.5, failRatio: 0.2, tenantId: 't_1', seed: 9, jobIdPrefix: 'p' })
  t.same({ url: config.url, exchange: config.exchange, repeat: config.repeat, help: config.help },
    { url: 'amqp://guest:guest@127.0.0.1:5672', exchange: EXCHANGE, repeat: false, help: false })
  const env = parseCliArgs(['--', '--repeat'], { AMQP_URL: 'amqps://u:p@broker:5671', AMQP_EXCHANGE: 'x.events' })
  t.match(env, { repeat: true, url: 'amqps://u:p@broker:5671', exchange: 'x.events', settings: DEFAULT_SETTINGS }, 'a leading -- is skipped')
  t.equal(parseCliArgs(['--help', '--jobs', 'nope']).help, true, '--help wins over anything else')
  t.match(USAGE, /--fail-ratio F/)
})

t.test('CLI: bad arguments are UsageErrors naming the flag', async t => {
  const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
    [['--jobs', 'abc'], /^--jobs must be a number, not "abc"$/],
    [['--jobs', ''], /^--jobs must be a number/],
    [['--rate', '0'], /^--rate must be a number of events per second above 0/],
    [['--fail-ratio', '2'], /^--fail-ratio must be a number from 0 to 1, not 2$/],
    [['--products', '1e9'], /^--products must be an integer/],
    [['--tenant', 'bad tenant'], /^--tenant must be an id/],
    [['--seed=-3'], /^--seed must be an integer/],
    [['--job-prefix', '!'], /^--job-prefix must be/],
    [['--jobs'], /--jobs/],
    [['--bogus'], /--bogus/],
    [['stray'], /stray/],
    [[], /^AMQP_URL must start with amqp:\/\//, { AMQP_URL: 'http://broker' }]
  ]
  for (const [argv, message, env] of cases) {
    const err = t.throws(() => parseCliArgs(argv, env), `${argv.join(' ')} is refused`)
    t.ok(err instanceof UsageError)
    t.match((err as Error).message, message)
  }
  t.equal(FLAGS.failRatio, '--fail-ratio')
})
