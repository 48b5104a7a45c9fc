/**
 * The simulation's settings and their limits, checked in one place so that
 * the library and the CLI refuse the same values with the same words.
 */
import { randomBytes } from 'node:crypto'
import { ID_PATTERN } from '@training-live/events'
import { MAX_SEED, freshSeed } from './random.ts'

export interface SimulationSettings {
  tenantId: string
  jobs: number
  /** Products per job. */
  products: number
  /** Events per second over the whole run. */
  rate: number
  /** Share of the jobs that fail, 0..1. */
  failRatio: number
  seed: number
  /** Job ids are `<jobIdPrefix>_<n>`, n from 1. */
  jobIdPrefix: string
}

export const DEFAULT_SETTINGS = {
  tenantId: 'tenant_demo',
  jobs: 3,
  products: 10,
  rate: 20,
  failRatio: 0
} as const

/** The settings with defaults filled in: a fresh seed, and a job id prefix of its own so runs never share job ids. */
export function withDefaults (given: Partial<SimulationSettings>): SimulationSettings {
  return {
    tenantId: given.tenantId ?? DEFAULT_SETTINGS.tenantId,
    jobs: given.jobs ?? DEFAULT_SETTINGS.jobs,
    products: given.products ?? DEFAULT_SETTINGS.products,
    rate: given.rate ?? DEFAULT_SETTINGS.rate,
    failRatio: given.failRatio ?? DEFAULT_SETTINGS.failRatio,
    seed: given.seed ?? freshSeed(),
    jobIdPrefix: given.jobIdPrefix ?? `sim_${randomBytes(4).toString('hex')}`
  }
}

export const LIMITS = {
  jobs: 100_000,
  products: 10_000,
  // A batch's plan is held in memory, one object an event.
  eventsPerBatch: 1_000_000
} as const

/** A setting out of its range; `option` names the setting. */
export class OptionError extends RangeError {
  readonly code = 'SIMULATOR_BAD_OPTION'
  readonly option: keyof SimulationSettings
  constructor (option: keyof SimulationSettings, message: string) {
    super(message)
    this.name = 'OptionError'
    this.option = option
  }
}

const idPattern = new RegExp(ID_PATTERN)

function isIntegerIn (value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max
}

/** Throws an OptionError for the first setting out of range; `describe` names a setting in the message. */
export function checkSettings (s: SimulationSettings, describe: (option: keyof SimulationSettings) => string = String): void {
  const fail = (option: keyof SimulationSettings, rule: string, value: unknown): never => {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
    throw new OptionError(option, `${describe(option)} must be ${rule}, not ${shown}`)
  }
  if (!isIntegerIn(s.jobs, 1, LIMITS.jobs)) fail('jobs', `an integer from 1 to ${LIMITS.jobs}`, s.jobs)
  if (!isIntegerIn(s.products, 0, LIMITS.products)) fail('products', `an integer from 0 to ${LIMITS.products}`, s.products)
  if (s.jobs * (s.products + 3) > LIMITS.eventsPerBatch) {
    fail('jobs', `small enough that jobs x (products + 3) is at most ${LIMITS.eventsPerBatch} events`, s.jobs)
  }
  if (!(Number.isFinite(s.rate) && s.rate > 0)) fail('rate', 'a number of events per second above 0', s.rate)
  if (!(s.failRatio >= 0 && s.failRatio <= 1)) fail('failRatio', 'a number from 0 to 1', s.failRatio)
  if (!isIntegerIn(s.seed, 0, MAX_SEED)) fail('seed', `an integer from 0 to ${MAX_SEED}`, s.seed)
  if (!idPattern.test(s.tenantId)) fail('tenantId', `an id matching ${ID_PATTERN}`, s.tenantId)
  // The longest job id must fit the id pattern too.
  if (!idPattern.test(`${s.jobIdPrefix}_${s.jobs}`)) {
    fail('jobIdPrefix', `an id prefix matching ${ID_PATTERN} with room for "_${s.jobs}"`, s.jobIdPrefix)
  }
}
