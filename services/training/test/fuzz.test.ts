/**
 * Poison events: thousands of random and mutated bodies through the real
 * consumer of a real training process. The process never crashes, every
 * message is either applied (or dropped as a duplicate / after the end of its
 * job) or dead-lettered, and the queue never stalls.
 *
 * The bodies derive from one seed, printed in the output; replay a failure with
 *   FUZZ_SEED=<seed> pnpm exec tap test/fuzz.test.ts
 * (FUZZ_COUNT changes how many bodies are generated, 3000 by default.)
 *
 * The expected outcome of each message comes from a model: the shared
 * parseEvent and reducer applied in publish order, which is the order in which
 * the single consumer applies each job's events.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { createHash, randomInt } from 'node:crypto'
import { promisify } from 'node:util'
import amqplib from 'amqplib'
import fc from 'fast-check'
import { createPublisher } from '@training-live/events/publisher'
import {
  EVENT_TYPES, applyEvent, compareStreamIds, initialJobState, isTerminal, parseEvent,
  type EventType, type InvalidReason, type JobState, type LiveMessageBody
} from '@training-live/events'
import {
  AMQP_URL, LiveClient, deleteKeys, deleteTopology, drainQueue, eventually, jobEvents, liveUrl, metricValue, mintToken,
  startService, testTopology, uniqueId
} from '@training-live/test-kit'

const SEED = parseSeed(process.env.FUZZ_SEED)
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000)

function parseSeed (value: string | undefined): number {
  if (value === undefined || value === '') return randomInt(2 ** 31 - 1)
  const seed = Number(value)
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${value}`)
  return seed | 0
}

// ---------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a small, fast, seeded PRNG for the generator's own choices. */
function prng (seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(SEED)
const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1))
const chance = (p: number): boolean => random() < p
function pick<T> (values: readonly T[]): T {
  return values[Math.floor(random() * values.length)] as T
}
function weighted<T> (choices: Array<[number, T]>): T {
  const total = choices.reduce((sum, [w]) => sum + w, 0)
  let r = random() * total
  for (const [w, value] of choices) {
    if ((r -= w) < 0) return value
  }
  return (choices[choices.length - 1] as [number, T])[1]
}

// ---------------------------------------------------------------------------
// The jobs this test owns, and the model of what the service should do

const runTag = uniqueId('fz').slice(3)
const tenantA = `fuzz-tenant-a_${runTag}`
const tenantB = `fuzz-tenant-b_${runTag}`
interface Job { tenant_id: string, job_id: string }
const jobs: Job[] = Array.from({ length: 16 }, (_, i) => ({ tenant_id: i % 4 === 3 ? tenantB : tenantA, job_id: `fuzz-job-${i}_${runTag}` }))
// The same job id under both tenants: two distinct jobs.
jobs.push({ tenant_id: tenantB, job_id: (jobs[0] as Job).job_id })
const jobKey = (tenantId: string, jobId: string): string => `${tenantId}/${jobId}`

type Outcome = 'applied' | 'duplicate' | 'terminal' | 'dead_lettered'
/** What a generator claims about its body; 'any' when either outcome is acceptable. */
type Expect = 'valid' | 'invalid' | 'any'

interface Item {
  kind: string
  routingKey: string
  body: Buffer
  messageId?: string
  expect: Expect
  outcome: Outcome
  reason?: InvalidReason
  /** When parseEvent itself threw (it must not). */
  threw?: string
}

class Model {
  readonly states = new Map<string, JobState>()
  readonly history = new Map<string, LiveMessageBody[]>()
  readonly outcomes: Record<Outcome, number> = { applied: 0, duplicate: 0, terminal: 0, dead_lettered: 0 }
  readonly reasons = new Map<InvalidReason, number>()

  state (tenantId: string, jobId: string): JobState {
    return this.states.get(jobKey(tenantId, jobId)) ?? initialJobState(tenantId, jobId)
  }

  /** Predicts what the consumer does with one message, in publish order. */
  predict (item: Omit<Item, 'outcome'>): Item {
    let parsed: ReturnType<typeof parseEvent>
    try {
      parsed = parseEvent(item.body, item.routingKey, item.messageId)
    } catch (err) {
      // The real consumer would not survive this either; counted as dead-lettered so the test goes on and reports it.
      this.outcomes.dead_lettered++
      return { ...item, outcome: 'dead_lettered', threw: String(err) }
    }
    if (!parsed.ok) {
      this.outcomes.dead_lettered++
      this.reasons.set(parsed.reason, (this.reasons.get(parsed.reason) ?? 0) + 1)
      return { ...item, outcome: 'dead_lettered', reason: parsed.reason }
    }
    const event = parsed.event
    const key = jobKey(event.tenant_id, event.job_id)
    const result = applyEvent(this.state(event.tenant_id, event.job_id), event)
    this.states.set(key, result.state)
    if (result.message === null) {
      this.outcomes[result.dropped]++
      return { ...item, outcome: result.dropped }
    }
    this.outcomes.applied++
    const history = this.history.get(key) ?? []
    history.push(result.message)
    this.history.set(key, history)
    return { ...item, outcome: 'applied' }
  }
}

// ---------------------------------------------------------------------------
// Generators

const T0 = Date.parse('2025-10-08T12:00:00.000Z')
const STEPS = ['Data Analysis', 'Feature Engineering', 'Model Training', 'Evaluation', 'Étape 3 — 训练 🚀']
const HUGE = 100 * 1024
let eventCounter = 0

const timestamp = (): string => new Date(T0 + eventCounter * 1000 + int(-20_000, 20_000)).toISOString()
const eventId = (): string => chance(0.5) ? `ev-${SEED}-${eventCounter}` : `${int(0, 0xffffffff).toString(16)}-${eventCounter}-fuzz`

/** Samples of fast-check arbitraries, all from the seed. */
function samples<T> (arb: fc.Arbitrary<T>, salt: number, numRuns = 400): () => T {
  const values = fc.sample(arb, { seed: (SEED + salt) | 0, numRuns })
  return () => pick(values)
}
const randomBytes = samples(fc.uint8Array({ maxLength: 400 }), 1)
const randomJson = samples(fc.jsonValue({ maxDepth: 4 }), 2)
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: 'binary', maxLength: 24 }))
const randomExtras = samples(fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), 4)
const fuzzEnvelope = samples(fc.record({
  event_id: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), anyValue),
  type: fc.oneof(fc.constantFrom(...EVENT_TYPES), anyValue),
  job_id: fc.oneof(fc.constantFrom(...jobs.map(j => j.job_id)), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/), anyValue),
  tenant_id: fc.oneof(fc.constantFrom(tenantA, tenantB), anyValue),
  timestamp: fc.oneof(fc.date({ min: new Date(T0 - 1e10), max: new Date(T0 + 1e10), noInvalidDate: true }).map(d => d.toISOString()), anyValue),
  data: fc.oneof(fc.record({
    total_products: fc.oneof(fc.integer({ min: -3, max: 12 }), anyValue),
    step: fc.oneof(fc.constantFrom(...STEPS), anyValue),
    product_name: fc.oneof(fc.constantFrom('p1', 'p2', 'p3'), anyValue),
    error: fc.oneof(fc.constant('boom'), anyValue),
    successful_trainings: fc.oneof(fc.nat(9), anyValue)
  }, { requiredKeys: [] }), anyValue)
}, { requiredKeys: [] }), 5, 600)

const REQUIRED_DATA: Record<EventType, string[]> = {
  'training.started': ['total_products'],
  'training.progress': ['step'],
  'training.product.completed': ['product_name', 'total_products'],
  'training.completed': [],
  'training.failed': ['error']
}
const COUNT_FIELDS: Record<EventType, string[]> = {
  'training.started': ['total_products'],
  'training.progress': [],
  'training.product.completed': ['total_products', 'products_completed'],
  'training.completed': ['successful_trainings', 'failed_trainings'],
  'training.failed': []
}
const STRING_FIELDS: Record<EventType, string[]> = {
  'training.started': [],
  'training.progress': ['step'],
  'training.product.completed': ['product_name', 'current_step'],
  'training.completed': [],
  'training.failed': ['error']
}

type Obj = Record<string, unknown>

function validData (type: EventType): Obj {
  switch (type) {
    case 'training.started': return { total_products: int(0, 10) }
    case 'training.progress': return chance(0.5) ? { step: pick(STEPS) } : { step: pick(STEPS), progress: random() * 100 }
    case 'training.product.completed': {
      const data: Obj = { product_name: `p${int(0, 11)}`, total_products: int(1, 10) }
      if (chance(0.6)) data.products_completed = int(0, 10)
      if (chance(0.6)) data.current_step = `Trained ${String(data.product_name)}`
      if (chance(0.3)) data.step_details = { loss: random(), epochs: int(1, 50), tags: ['a', 'b'] }
      return data
    }
    case 'training.completed': return chance(0.3) ? {} : { successful_trainings: int(0, 10), failed_trainings: int(0, 3), total_duration: random() * 3600 }
    case 'training.failed': return { error: pick(['boom', 'out of memory', 'GPU lost: ☠️']) }
  }
}

function validEvent (job: Job, type?: EventType): Obj {
  eventCounter++
  const eventType = type ?? weighted<EventType>([
    [12, 'training.started'], [25, 'training.progress'], [60, 'training.product.completed'],
    [0.6, 'training.completed'], [0.4, 'training.failed']
  ])
  return { event_id: eventId(), type: eventType, job_id: job.job_id, tenant_id: job.tenant_id, timestamp: timestamp(), data: validData(eventType) }
}

const text = (value: unknown): Buffer => Buffer.from(JSON.stringify(value))
const RANDOM_KEYS = [
  ...EVENT_TYPES, 'training', 'training.unknown', 'training.started.v2', 'training.a.b.c.d.e', 'training.Started',
  'training.ünïcødé', 'training.*', 'training.#', 'training.', 'training..progress'
]
function routingKeyFor (type: unknown): string {
  if (typeof type === 'string' && /^training(\.[A-Za-z0-9_-]+)+$/.test(type) && type.length < 200 && chance(0.9)) return type
  return pick(RANDOM_KEYS)
}

/** Nested objects (or arrays) `depth` levels deep, built without recursion. */
function nested (depth: number, arrays = false): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { n: value }
  return value
}
function nestedText (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

function hugeString (): string {
  return pick(['x', 'é', '🚀', 'ab']).repeat(HUGE / 2)
}

type Draft = Omit<Item, 'outcome'>

const model = new Model()
/** Valid events published so far, for duplicates. */
const published: Draft[] = []

function mutation (): Draft {
  const job = pick(jobs)
  const kind = pick([
    'drop_required', 'wrong_type', 'huge_string', 'deep_500', 'very_deep', 'unicode_id', 'nanish_string', 'raw_number',
    'negative_count', 'routing_mismatch', 'extra_fields', 'duplicate', 'same_id_new_body', 'after_terminal', 'message_id_only',
    'truncated', 'invalid_utf8', 'wrapped', 'bad_timestamp', 'type_case', 'proto_keys'
  ])
  const ev = validEvent(job)
  const type = ev.type as EventType
  const data = ev.data as Obj
  switch (kind) {
    case 'drop_required': {
      const field = pick([...['event_id', 'type', 'job_id', 'tenant_id', 'timestamp', 'data'], ...REQUIRED_DATA[type].map(f => `data.${f}`)])
      if (field.startsWith('data.')) delete data[field.slice(5)]
      else delete ev[field]
      return { kind: `${kind}:${field}`, routingKey: type, body: text(ev), expect: 'invalid' }
    }
    case 'wrong_type': {
      const field = pick([
        'event_id', 'type', 'job_id', 'tenant_id', 'timestamp', 'data',
        ...REQUIRED_DATA[type].map(f => `data.${f}`), ...COUNT_FIELDS[type].map(f => `data.${f}`)
      ])
      const isCount = field.startsWith('data.') && COUNT_FIELDS[type].includes(field.slice(5))
      const value = pick(isCount ? ['5', 1.5, true, null, [], {}, 'many'] : field === 'data' ? [[], 'x', null, 1, true] : [123, true, null, [], {}, 0])
      if (field.startsWith('data.')) data[field.slice(5)] = value
      else ev[field] = value
      return { kind: `${kind}:${field}`, routingKey: type, body: text(ev), expect: 'invalid' }
    }
    case 'huge_string': {
      const field = pick(['event_id', 'job_id', 'tenant_id', 'type', 'timestamp', 'extra', 'data.extra', ...STRING_FIELDS[type].map(f => `data.${f}`)])
      const value = hugeString()
      if (field.startsWith('data.')) data[field.slice(5)] = value
      else ev[field] = value
      return { kind: `${kind}:${field}`, routingKey: routingKeyFor(ev.type), body: text(ev), expect: 'any' }
    }
    case 'deep_500':
      if (chance(0.5)) data.nested = nested(500, chance(0.5))
      else if (type === 'training.product.completed') data.step_details = nested(500)
      else ev.meta = nested(500)
      return { kind, routingKey: type, body: text(ev), expect: 'any' }
    case 'very_deep': {
      // Deeper than JSON.stringify can handle on its stack (about 4000 levels), as raw text.
      const depth = int(3000, 50_000)
      const where = pick(['data', 'type', 'top', 'body'])
      if (where === 'body') return { kind: `${kind}:${where}`, routingKey: pick(EVENT_TYPES), body: Buffer.from(nestedText(depth)), expect: 'invalid' }
      const marker = '"__DEEP__"'
      if (where === 'data') data.deep = '__DEEP__'
      else if (where === 'type') ev.type = '__DEEP__'
      else ev.deep = '__DEEP__'
      return { kind: `${kind}:${where}`, routingKey: type, body: Buffer.from(JSON.stringify(ev).replace(marker, nestedText(depth))), expect: 'invalid' }
    }
    case 'unicode_id': {
      const field = pick(['event_id', 'job_id', 'tenant_id'])
      const value = pick(['jöb', '工作-1', '🚀🚀', 'a\u0000b', '\ud800', 'x\u202Ey', 'ǅ', '\uFEFFjob', `${String(ev[field])}é`])
      ev[field] = value
      return { kind: `${kind}:${field}`, routingKey: type, body: text(ev), expect: field === 'event_id' ? 'valid' : 'invalid' }
    }
    case 'nanish_string': {
      const fields = [...COUNT_FIELDS[type], ...(type === 'training.progress' ? ['progress'] : []), ...(type === 'training.completed' ? ['total_duration'] : [])]
      if (fields.length === 0) return nanishRaw(ev, type)
      data[pick(fields)] = pick(['NaN', 'Infinity', '-Infinity', '1e3', ' 5', '0x10', '', '5'])
      return { kind, routingKey: type, body: text(ev), expect: 'invalid' }
    }
    case 'raw_number':
      return nanishRaw(ev, type)
    case 'negative_count': {
      const t2 = pick(['training.started', 'training.product.completed', 'training.completed'] as const)
      const e2 = validEvent(job, t2)
      const d2 = e2.data as Obj
      const field = pick(t2 === 'training.completed' ? ['successful_trainings', 'failed_trainings', 'total_duration'] : COUNT_FIELDS[t2])
      d2[field] = -int(1, 1000) / (field === 'total_duration' ? 2 : 1)
      return { kind: `${kind}:${field}`, routingKey: t2, body: text(e2), expect: 'invalid' }
    }
    case 'routing_mismatch':
      return { kind, routingKey: pick([...EVENT_TYPES.filter(x => x !== type), 'training.unknown', 'training', 'training.started.v2']), body: text(ev), expect: 'invalid' }
    case 'extra_fields':
      Object.assign(ev, { x_extra: randomJson(), worker: { host: 'gpu-7', pid: int(1, 99999) } })
      // Extras never replace the fields the schema knows.
      ev.data = { ...randomExtras(), x_data_extra: randomJson(), ...data }
      return { kind, routingKey: type, body: text(ev), messageId: ev.event_id as string, expect: 'valid' }
    case 'duplicate': {
      const earlier = published.length > 0 ? pick(published) : undefined
      if (earlier === undefined) return { kind: 'valid', routingKey: type, body: text(ev), expect: 'valid' }
      return { ...earlier, kind }
    }
    case 'same_id_new_body': {
      const earlier = published.length > 0 ? pick(published) : undefined
      const body = earlier === undefined ? undefined : JSON.parse(earlier.body.toString()) as Obj
      if (body === undefined) return { kind: 'valid', routingKey: type, body: text(ev), expect: 'valid' }
      const other = validEvent({ tenant_id: body.tenant_id as string, job_id: body.job_id as string })
      other.event_id = body.event_id ?? earlier?.messageId
      return { kind, routingKey: other.type as string, body: text(other), expect: 'valid' }
    }
    case 'after_terminal': {
      const finished = jobs.filter(j => isTerminal(model.state(j.tenant_id, j.job_id).status))
      if (finished.length === 0) {
        // None finished yet: finish one now, then the next events for it are late.
        return { kind: 'finish', routingKey: 'training.completed', body: text(validEvent(job, 'training.completed')), expect: 'valid' }
      }
      const late = validEvent(pick(finished))
      return { kind, routingKey: late.type as string, body: text(late), expect: 'valid' }
    }
    case 'message_id_only': {
      const id = ev.event_id as string
      delete ev.event_id
      const withId = chance(0.8)
      return { kind: `${kind}:${withId}`, routingKey: type, body: text(ev), ...withId ? { messageId: id } : {}, expect: withId ? 'valid' : 'invalid' }
    }
    case 'truncated': {
      const full = text(ev)
      return { kind, routingKey: type, body: full.subarray(0, int(0, full.length - 1)), expect: 'invalid' }
    }
    case 'invalid_utf8': {
      const full = text(ev)
      const bad = pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf0, 0x9f], [0xc0, 0xaf], [0xfe, 0xfe]])
      // Inside a string value (after the opening quote of one) or anywhere at all.
      const quotes = [...full.entries()].filter(([, b]) => b === 0x22).map(([i]) => i)
      const at = chance(0.6) && quotes.length > 0 ? pick(quotes) + 1 : int(0, full.length)
      return { kind, routingKey: type, body: Buffer.concat([full.subarray(0, at), Buffer.from(bad), full.subarray(at)]), expect: 'any' }
    }
    case 'wrapped': {
      const how = pick(['bom', 'array', 'string', 'trailing', 'whitespace', 'two_objects', 'null_bytes'])
      const json = JSON.stringify(ev)
      const body = {
        bom: '\uFEFF' + json,
        array: `[${json}]`,
        string: JSON.stringify(json),
        trailing: json + ' garbage',
        whitespace: `\n\t ${json} \r\n`,
        two_objects: json + json,
        null_bytes: json + '\u0000'
      }[how] as string
      return { kind: `${kind}:${how}`, routingKey: type, body: Buffer.from(body), expect: how === 'whitespace' ? 'valid' : 'invalid' }
    }
    case 'bad_timestamp': {
      const value = pick(['yesterday', '2025-13-01T00:00:00Z', '2025-02-30T00:00:00Z', '', 1_700_000_000, '2025-10-08', '2025-06-30T23:59:60Z', '+275760-09-13T00:00:00.000Z'])
      ev.timestamp = value
      return { kind: `${kind}:${String(value)}`, routingKey: type, body: text(ev), expect: 'any' }
    }
    case 'type_case': {
      ev.type = pick(['Training.Started', 'training.started ', 'TRAINING.PROGRESS', 'training.product_completed', 'training.unknown', 'training'])
      return { kind, routingKey: routingKeyFor(ev.type), body: text(ev), expect: 'invalid' }
    }
    case 'proto_keys': {
      // Own "__proto__" keys (JSON.parse makes them plain properties), in the event and in its data.
      const dataJson = JSON.stringify(data)
      const protoData = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}' + (dataJson === '{}' ? '}' : `,${dataJson.slice(1)}`)
      const body = JSON.stringify({ ...ev, data: '__DATA__' }).replace('"__DATA__"', protoData)
        .replace(/^\{/, '{"__proto__":{"type":"training.failed"},')
      return { kind, routingKey: type, body: Buffer.from(body), expect: 'valid' }
    }
  }
  throw new Error(`no generator for ${kind}`)
}

/** Numbers JSON has no room for (NaN, Infinity as literals), or odd but legal ones. */
function nanishRaw (ev: Obj, type: EventType): Draft {
  const json = JSON.stringify({ ...ev, data: { ...(ev.data as Obj), odd: '__NUM__' } })
  const literal = pick(['NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '-0', '1e308', '0.1e1', '00', '+1', '.5', '1.', '0x10'])
  return { kind: `raw_number:${literal}`, routingKey: type, body: Buffer.from(json.replace('"__NUM__"', literal)), expect: 'any' }
}

function generate (): Item[] {
  const items: Item[] = []
  for (let n = 0; n < COUNT; n++) {
    const category = weighted<string>([[10, 'bytes'], [10, 'json'], [8, 'envelope'], [37, 'valid'], [35, 'mutation']])
    let draft: Draft
    switch (category) {
      case 'bytes':
        draft = { kind: 'random_bytes', routingKey: pick(RANDOM_KEYS), body: Buffer.from(randomBytes()), expect: 'invalid' }
        break
      case 'json': {
        const value = randomJson()
        draft = { kind: 'random_json', routingKey: pick(RANDOM_KEYS), body: text(value), expect: 'invalid' }
        break
      }
      case 'envelope': {
        const value = fuzzEnvelope()
        draft = { kind: 'fuzz_envelope', routingKey: routingKeyFor(value.type), body: text(value), expect: 'any' }
        break
      }
      case 'valid': {
        const ev = validEvent(pick(jobs))
        const own = chance(0.95)
        draft = {
          kind: own ? 'valid' : 'valid_random_key',
          routingKey: own ? ev.type as string : pick(RANDOM_KEYS),
          body: text(ev),
          ...chance(0.5) ? { messageId: ev.event_id as string } : {},
          expect: own ? 'valid' : 'any'
        }
        break
      }
      default:
        draft = mutation()
    }
    const item = model.predict(draft)
    if (item.outcome !== 'dead_lettered') published.push(draft)
    items.push(item)
  }
  return items
}

/**
 * The main queue's messages (ready + unacknowledged) as `rabbitmqctl list_queues` shows them,
 * or null when rabbitmqctl is not available here (e.g. a broker in a container).
 */
async function brokerQueueDepth (queue: string): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('rabbitmqctl', ['list_queues', '-q', 'name', 'messages'], { timeout: 15_000 })
    const line = stdout.split('\n').map(l => l.split('\t')).find(([name]) => name === queue)
    return line === undefined ? null : Number(line[1])
  } catch {
    return null
  }
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex').slice(0, 16)

// ---------------------------------------------------------------------------

const topology = testTopology('fuzz')
const training = await startService('training', { env: { ...topology.env, LOG_LEVEL: 'warn' } })
const publisher = await createPublisher({ url: AMQP_URL, exchange: topology.exchange })
const connection = await amqplib.connect(AMQP_URL)
const clients: LiveClient[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await publisher.close()
  await connection.close().catch(() => {})
  await training.stop()
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

t.comment(`FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT} (replay: FUZZ_SEED=${SEED} pnpm exec tap test/fuzz.test.ts)`)
const generatedAt = performance.now()
const items = generate()
t.comment(`generated ${items.length} bodies in ${Math.round(performance.now() - generatedAt)} ms; ` +
  `model: ${JSON.stringify(model.outcomes)} dead-letter reasons ${JSON.stringify(Object.fromEntries(model.reasons))}`)

t.test(`every generator's claim holds for parseEvent (FUZZ_SEED=${SEED})`, async t => {
  const threw = items.filter(i => i.threw !== undefined)
  t.same(threw.map(i => `${i.kind}: ${i.threw ?? ''}`), [], 'parseEvent never throws')
  const wrong = items.filter(i => i.threw === undefined && (
    (i.expect === 'valid' && i.outcome === 'dead_lettered') || (i.expect === 'invalid' && i.outcome !== 'dead_lettered')))
  t.same(wrong.map(i => `${i.kind} expected ${i.expect}: ${i.reason ?? i.outcome} ${i.body.subarray(0, 300).toString()}`), [], 'valid bodies accepted, invalid ones refused')
  const kinds = new Map<string, number>()
  for (const i of items) kinds.set(i.kind.split(':')[0] as string, (kinds.get(i.kind.split(':')[0] as string) ?? 0) + 1)
  t.comment(`kinds: ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`)
  t.ok(model.outcomes.applied > 100 && model.outcomes.dead_lettered > 500 && model.outcomes.duplicate > 0 && model.outcomes.terminal > 0,
    'the mix covers every outcome')
})

t.test(`the consumer survives poison events and never stalls (FUZZ_SEED=${SEED})`, async t => {
  const sentinel: Job = { tenant_id: tenantA, job_id: `fuzz-sentinel_${runTag}` }
  const sentinelClient = new LiveClient(liveUrl(training.wsUrl, sentinel.tenant_id, sentinel.job_id, { token: await mintToken({ tenantId: sentinel.tenant_id }) }))
  clients.push(sentinelClient)
  await sentinelClient.opened
  await sentinelClient.waitFor(m => m.length >= 1, 10_000, 'sentinel snapshot')

  // Publish everything (confirmed), in order, then a valid job after all the garbage.
  const started = performance.now()
  for (let i = 0; i < items.length; i += 250) {
    await Promise.all(items.slice(i, i + 250).map(item =>
      publisher.publishRaw(item.routingKey, item.body, item.messageId === undefined ? {} : { messageId: item.messageId })))
  }
  const sentinelEvents = jobEvents(sentinel.tenant_id, sentinel.job_id, ['s1', 's2', 's3'])
  for (const e of sentinelEvents) await publisher.publishRaw(e.type, JSON.stringify(e), { messageId: e.event_id })
  t.comment(`published ${items.length} + ${sentinelEvents.length} messages in ${Math.round(performance.now() - started)} ms`)

  // The sentinel job gets through: the queue kept flowing past every poison message.
  const closed = await Promise.race([
    sentinelClient.closedPromise,
    new Promise<null>(resolve => setTimeout(() => resolve(null), 45_000).unref())
  ])
  if (closed?.code !== 1000) t.comment(`training output (tail):\n${training.output().slice(-4000)}`)
  t.equal(closed?.code, 1000, 'the sentinel job completes on a live client')
  t.same(sentinelClient.events.map(m => m.type), ['started', 'progress', 'product_completed', 'product_completed', 'product_completed', 'completed'])
  t.same(sentinelClient.events.map(m => m.progress), [0, 20, 40, 60, 80, 100])
  t.comment(`sentinel delivered ${Math.round(performance.now() - started)} ms after the first publish`)

  // Every message was applied, dropped or dead-lettered: the counts add up.
  const total = items.length + sentinelEvents.length
  let seen = 0
  try {
    await eventually(`${total} events counted`, async () => (seen = await metricValue(training, 'training_events_total')) >= total, 30_000)
  } catch {}
  t.equal(seen, total, 'training_events_total over all outcomes equals the number published')
  const outcome = (o: Outcome) => metricValue(training, 'training_events_total', `outcome="${o}"`)
  t.same({
    applied: await outcome('applied'),
    duplicate: await outcome('duplicate'),
    terminal: await outcome('terminal'),
    dead_lettered: await outcome('dead_lettered')
  }, { ...model.outcomes, applied: model.outcomes.applied + sentinelEvents.length }, 'each outcome as the model predicts')
  for (const [reason, count] of model.reasons) {
    t.equal(await metricValue(training, 'training_events_dead_lettered_total', `reason="${reason}"`), count, `dead-lettered for ${reason}`)
  }
  t.equal(await metricValue(training, 'training_apply_errors_total'), 0, 'no event failed to apply (nothing retried in a loop)')

  // The process is alive and ready.
  t.equal(training.child.exitCode, null, 'the process is alive')
  t.equal(training.child.signalCode, null)
  t.equal((await fetch(`${training.url}/ready`)).status, 200, '/ready is 200')

  // The main queue is empty, the dead-letter queue holds exactly the refused bodies, in order.
  const channel = await connection.createChannel()
  try {
    await eventually('the main queue to empty', async () => (await channel.checkQueue(topology.queue)).messageCount === 0, 10_000)
  } catch {}
  const queue = await channel.checkQueue(topology.queue)
  t.equal(queue.messageCount, 0, 'the main queue is empty')
  t.equal(queue.consumerCount, 1, 'the consumer is still attached')
  let depth = await brokerQueueDepth(topology.queue)
  if (depth === null) {
    t.comment('rabbitmqctl not available: unacknowledged messages checked through the metrics only')
  } else {
    try {
      await eventually('rabbitmqctl to show no message left', async () => (depth = await brokerQueueDepth(topology.queue)) === 0, 10_000)
    } catch {}
    t.equal(depth, 0, 'rabbitmqctl list_queues: no message ready or unacknowledged in the main queue')
  }
  const deadExpected = items.filter(i => i.outcome === 'dead_lettered')
  try {
    await eventually('the dead-letter queue to fill', async () => (await channel.checkQueue(topology.deadLetterQueue)).messageCount >= deadExpected.length, 10_000)
  } catch {}
  await channel.close()
  const dead = await drainQueue(topology.deadLetterQueue)
  t.equal(dead.length, deadExpected.length, 'the dead-letter queue holds exactly the dead-lettered count')
  t.equal(dead.length, await outcome('dead_lettered'), 'and agrees with the metric')
  const deadGot = dead.map(m => `${m.fields.routingKey} ${sha(m.content)}`)
  const deadWant = deadExpected.map(i => `${i.routingKey} ${sha(i.body)}`)
  const firstDiff = deadGot.findIndex((x, i) => x !== deadWant[i])
  t.equal(firstDiff, deadGot.length === deadWant.length ? -1 : Math.min(deadGot.length, deadWant.length),
    `the refused bodies, byte for byte, in order${firstDiff >= 0 ? ` (first difference: ${deadExpected[firstDiff]?.kind ?? 'none'})` : ''}`)
})

t.test(`every job's history is consistent from last_id=0-0 (FUZZ_SEED=${SEED})`, async t => {
  await Promise.all(jobs.map(async job => {
    const key = jobKey(job.tenant_id, job.job_id)
    const expected = model.history.get(key) ?? []
    const state = model.state(job.tenant_id, job.job_id)
    const client = new LiveClient(liveUrl(training.wsUrl, job.tenant_id, job.job_id, { token: await mintToken({ tenantId: job.tenant_id }), last_id: '0-0' }))
    clients.push(client)
    await client.opened
    if (isTerminal(state.status)) await client.waitFor(() => client.closed !== null, 15_000, `${key} closed`)
    else await client.waitFor(m => m.length >= 1 + expected.length, 15_000, `${key} history`)
    const [snapshot] = client.messages
    t.match(snapshot, { type: 'connected', data: { status: state.status, progress: state.progress, products_completed: state.products.length } }, `${key} snapshot`)
    if (expected.length > 0) t.equal(snapshot?.data?.recovered, true, `${key} history complete`)
    if (isTerminal(state.status)) t.equal(client.closed?.code, 1000, `${key} closed after its history, finished`)

    const events = client.events
    t.equal(events.length, expected.length, `${key}: ${expected.length} events`)
    const ids = events.map(e => e.id as string)
    t.ok(ids.every((id, i) => i === 0 || compareStreamIds(ids[i - 1] as string, id) < 0), `${key} ids increase strictly`)
    const progress = events.map(e => e.progress as number)
    t.ok(progress.every((p, i) => i === 0 || (progress[i - 1] as number) <= p), `${key} progress never decreases`)
    t.same(events.map(e => [e.type, e.progress, e.data?.status, e.data?.products_completed]),
      expected.map(e => [e.type, e.progress, e.data.status, e.data.products_completed]), `${key} types and progress as the model says`)
    // Each message exactly as the reducer built it (the service only adds its id).
    const raw = client.raw.slice(1, 1 + events.length).map(r => sha('{' + r.slice(r.indexOf(',') + 1)))
    t.same(raw, expected.map(e => sha(JSON.stringify(e))), `${key} messages byte for byte`)
  }))
})
