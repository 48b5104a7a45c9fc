import t, { type Test } from 'tap'
import { EVENT_TYPES } from '../src/constants.ts'
import { isEventType, parseEvent, validateEvent, type EventParseResult, type InvalidEvent } from '../src/validate.ts'

/** The example envelope of contract §1, with its fields as given there. */
const ENVELOPE = {
  event_id: '7b1e3c0a-5f1d-4c3e-9d1e-2f0c4b9a8e11',
  job_id: 'training_abc123',
  tenant_id: 'tenant_xyz',
  timestamp: '2025-10-08T12:34:56.789Z'
} as const
/** What an invalid result echoes so that logs can name the job. */
const IDS = { event_id: ENVELOPE.event_id, tenant_id: ENVELOPE.tenant_id, job_id: ENVELOPE.job_id }

/** Data with every required field of each type (contract §1 table). */
const REQUIRED_DATA: Record<string, Record<string, unknown>> = {
  'training.started': { total_products: 3 },
  'training.progress': { step: 'Data Analysis' },
  'training.product.completed': { product_name: 'widgets', total_products: 3 },
  'training.completed': {},
  'training.failed': { error: 'CUDA out of memory' }
}

/** Data with the optional fields too. */
const FULL_DATA: Record<string, Record<string, unknown>> = {
  'training.started': { total_products: 0 },
  'training.progress': { step: 'Data Analysis', progress: 42.5 },
  'training.product.completed': {
    product_name: 'widgets', total_products: 3, products_completed: 1, current_step: 'Model Training', step_details: { epoch: 7, loss: 0.12 }
  },
  'training.completed': { successful_trainings: 2, failed_trainings: 1, total_duration: 3600.5 },
  'training.failed': { error: 'CUDA out of memory' }
}

function event (type: string, data: Record<string, unknown> = REQUIRED_DATA[type] ?? {}, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...ENVELOPE, type, data, ...overrides }
}

function invalid (t: Test, result: EventParseResult): InvalidEvent {
  if (result.ok) {
    t.fail('expected the event to be refused')
    throw new Error('accepted')
  }
  return result
}

t.test('isEventType', async t => {
  for (const type of EVENT_TYPES) t.equal(isEventType(type), true, type)
  t.equal(EVENT_TYPES.length, 5)
  for (const value of ['training', 'training.unknown', 'Training.Started', '', 42, null, undefined, {}]) {
    t.equal(isEventType(value), false, JSON.stringify(value) ?? 'undefined')
  }
})

t.test('a valid event of each of the five types is accepted', async t => {
  for (const type of EVENT_TYPES) {
    for (const data of [REQUIRED_DATA[type], FULL_DATA[type]]) {
      const body = event(type, data)
      const viaValidate = validateEvent(body)
      t.strictSame(viaValidate, { ok: true, event: body }, `${type} with ${JSON.stringify(data)}`)
      const viaParse = parseEvent(JSON.stringify(body), type)
      t.strictSame(viaParse, { ok: true, event: body }, `${type} parsed from a string with its routing key`)
      const viaBuffer = parseEvent(Buffer.from(JSON.stringify(body), 'utf8'), type)
      t.strictSame(viaBuffer, { ok: true, event: body }, `${type} parsed from a Buffer`)
    }
  }
})

t.test('the contract\'s literal example (product.completed with empty data) misses required fields', async t => {
  const result = invalid(t, validateEvent(event('training.product.completed', {})))
  t.equal(result.reason, 'schema')
  t.match(result.message, /\/data must have required properties product_name, total_products/)
})

t.test('timestamps in other RFC 3339 forms are accepted', async t => {
  for (const timestamp of ['2025-10-08T12:34:56Z', '2025-10-08T12:34:56+02:00', '2025-10-08T12:34:56.123456-05:30']) {
    t.equal(validateEvent(event('training.failed', undefined, { timestamp })).ok, true, timestamp)
  }
})

t.test('invalid JSON', async t => {
  for (const body of ['{', '', 'not json', '{"event_id": "x",}', Buffer.from([0xff, 0xfe, 0x7b])]) {
    const result = invalid(t, parseEvent(body))
    t.equal(result.reason, 'invalid_json', `${String(body)}`)
    t.match(result.message, /^body is not valid JSON: /)
    t.notOk('event_id' in result, 'no ids can be known')
  }
})

t.test('a JSON value that is not an object is a schema error', async t => {
  for (const body of ['[]', '[{"type":"training.started"}]', '42', '"training.started"', 'null', 'true']) {
    const result = invalid(t, parseEvent(body))
    t.strictSame(result, { ok: false, reason: 'schema', message: 'event must be a JSON object' }, body)
  }
  t.strictSame(invalid(t, validateEvent(undefined)).reason, 'schema')
})

t.test('unknown or missing type', async t => {
  const cases: Array<[unknown, string]> = [
    ['training.paused', 'unknown event type "training.paused"'],
    ['training.*', 'unknown event type "training.*"'],
    [7, 'unknown event type 7'],
    [null, 'unknown event type null'],
    [undefined, 'unknown event type null']
  ]
  for (const [type, message] of cases) {
    const body = event('training.started')
    if (type === undefined) delete body.type
    else body.type = type
    const result = invalid(t, validateEvent(body))
    t.strictSame(result, { ok: false, reason: 'unknown_type', message, ...IDS }, `type ${String(type)}`)
  }
})

t.test('each required data field missing is a schema error naming it', async t => {
  const required: Array<[string, string]> = [
    ['training.started', 'total_products'],
    ['training.progress', 'step'],
    ['training.product.completed', 'product_name'],
    ['training.product.completed', 'total_products'],
    ['training.failed', 'error']
  ]
  for (const [type, field] of required) {
    const data = { ...FULL_DATA[type] }
    delete data[field]
    const result = invalid(t, validateEvent(event(type, data)))
    t.equal(result.reason, 'schema', `${type} without ${field}`)
    t.equal(result.message, `invalid ${type} event: /data must have required properties ${field}`)
    t.equal(result.event_id, ENVELOPE.event_id, 'ids are echoed')
    t.equal(result.tenant_id, ENVELOPE.tenant_id)
    t.equal(result.job_id, ENVELOPE.job_id)
  }
})

t.test('each required envelope field missing is a schema error naming it', async t => {
  for (const field of ['event_id', 'job_id', 'tenant_id', 'timestamp', 'data']) {
    const body = event('training.started')
    delete body[field]
    const result = invalid(t, validateEvent(body))
    t.equal(result.reason, 'schema')
    t.match(result.message, new RegExp(`^invalid training\\.started event: / must have required properties ${field}$`), field)
  }
})

t.test('data fields of the wrong type or range', async t => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['training.started', { total_products: -1 }, /\/data\/total_products must be >= 0/],
    ['training.started', { total_products: 1.5 }, /\/data\/total_products must be integer/],
    ['training.started', { total_products: '3' }, /\/data\/total_products must be integer/],
    ['training.progress', { step: '' }, /\/data\/step must not have fewer than 1 characters/],
    ['training.progress', { step: 'x', progress: 'half' }, /\/data\/progress must be number/],
    ['training.product.completed', { product_name: 'p', total_products: 0 }, /\/data\/total_products must be >= 1/],
    ['training.product.completed', { product_name: 'p', total_products: 2, current_step: 5 }, /\/data\/current_step must be string/],
    ['training.completed', { total_duration: -1 }, /\/data\/total_duration must be >= 0/],
    ['training.failed', { error: '' }, /\/data\/error must not have fewer than 1 characters/]
  ]
  for (const [type, data, message] of cases) {
    const result = invalid(t, validateEvent(event(type, data)))
    t.equal(result.reason, 'schema')
    t.match(result.message, message, `${type} ${JSON.stringify(data)}`)
  }
  const notObject = invalid(t, validateEvent(event('training.completed', [] as unknown as Record<string, unknown>)))
  t.match(notObject.message, /\/data must be object/, 'data must be an object')
})

t.test('bad timestamps', async t => {
  for (const timestamp of ['yesterday', '', '2025-10-08', '2025-10-08T12:34:56', '2025-13-08T12:34:56Z', '2025-02-30T12:34:56Z', 1759926896789]) {
    const result = invalid(t, validateEvent(event('training.progress', undefined, { timestamp })))
    t.equal(result.reason, 'schema', String(timestamp))
    t.match(result.message, /\/timestamp must /)
  }
})

t.test('bad tenant and job ids', async t => {
  const bad = ['a/b', '', 'x'.repeat(200), '-leading-dash', 'has space', 'tenant?x=1', 'é', '../etc', 42]
  for (const field of ['tenant_id', 'job_id']) {
    for (const value of bad) {
      const result = invalid(t, validateEvent(event('training.started', undefined, { [field]: value })))
      t.equal(result.reason, 'schema', `${field} ${JSON.stringify(value).slice(0, 20)}`)
      t.match(result.message, new RegExp(`/${field} must `))
    }
  }
  t.test('the longest allowed id and the allowed punctuation pass', async t => {
    for (const value of ['a'.repeat(128), 'A0._:-z', '0']) {
      t.equal(validateEvent(event('training.started', undefined, { job_id: value, tenant_id: value })).ok, true, value.slice(0, 20))
    }
    t.equal(validateEvent(event('training.started', undefined, { job_id: 'a'.repeat(129) })).ok, false, '129 characters is too long')
  })
})

t.test('bad event ids', async t => {
  for (const value of ['', 'e'.repeat(201), 12]) {
    const result = invalid(t, validateEvent(event('training.started', undefined, { event_id: value })))
    t.equal(result.reason, 'schema')
    t.match(result.message, /\/event_id must /)
  }
  t.equal(validateEvent(event('training.started', undefined, { event_id: 'e'.repeat(200) })).ok, true, '200 characters is allowed')
})

t.test('envelope errors are listed first, every bad field named', async t => {
  const body = { type: 'training.product.completed', event_id: '', job_id: 'a/b', tenant_id: 7, timestamp: 'now', data: { product_name: '' }, extra: 1 }
  const result = invalid(t, validateEvent(body))
  t.equal(result.reason, 'schema')
  const details = result.message.replace(/^invalid training\.product\.completed event: /, '').split('; ')
  t.strictSame(details.map(d => d.split(' ')[0]), ['/event_id', '/job_id', '/tenant_id', '/timestamp'],
    'data errors wait until the envelope is right')
  t.ok(details.length <= 5, 'at most five details')
  t.equal(result.event_id, '')
  t.equal(result.tenant_id, undefined, 'a non-string id is not echoed')
  t.equal(result.job_id, 'a/b', 'invalid ids are still echoed for the logs')
  t.test('then the type\'s own errors', async t => {
    const fixed = { ...body, event_id: 'e-1', job_id: 'j-1', tenant_id: 't-1', timestamp: ENVELOPE.timestamp }
    t.equal(invalid(t, validateEvent(fixed)).message,
      'invalid training.product.completed event: /data must have required properties total_products; /data/product_name must not have fewer than 1 characters')
  })
})

t.test('routing key', async t => {
  const body = event('training.product.completed')
  t.strictSame(invalid(t, validateEvent(body, 'training.completed')), {
    ok: false,
    reason: 'routing_key_mismatch',
    message: 'routing key training.completed does not match type training.product.completed',
    ...IDS
  })
  t.equal(invalid(t, parseEvent(JSON.stringify(body), 'training.#')).reason, 'routing_key_mismatch')
  t.equal(invalid(t, parseEvent(JSON.stringify(body), '')).reason, 'routing_key_mismatch', 'an empty routing key is a key too')
  t.equal(validateEvent(body).ok, true, 'no routing key: nothing to compare')
  t.equal(invalid(t, validateEvent(event('training.failed', {}), 'training.started')).reason, 'schema',
    'a schema error is reported before a routing key mismatch')
})

t.test('extra fields are allowed, in data and at the top level', async t => {
  const body = event('training.started', { total_products: 2, model: 'xgboost', params: { depth: 6 } }, { worker: 'gpu-7', attempt: 2, trace: null })
  const result = validateEvent(body)
  t.strictSame(result, { ok: true, event: body })
  if (result.ok) {
    t.equal((result.event.data as Record<string, unknown>).model, 'xgboost', 'extra data fields are kept')
    t.equal((result.event as unknown as Record<string, unknown>).worker, 'gpu-7', 'extra top-level fields are kept')
  }
})

t.test('ids are echoed on invalid results when present', async t => {
  t.test('all present', async t => {
    const result = invalid(t, parseEvent(JSON.stringify(event('training.failed', {}))))
    t.equal(result.event_id, ENVELOPE.event_id)
    t.equal(result.tenant_id, ENVELOPE.tenant_id)
    t.equal(result.job_id, ENVELOPE.job_id)
  })
  t.test('only some present, or not strings', async t => {
    const result = invalid(t, validateEvent({ type: 'training.nope', job_id: 'job-1', tenant_id: 99 }))
    t.equal(result.reason, 'unknown_type')
    t.equal(result.job_id, 'job-1')
    t.equal(result.tenant_id, undefined, 'a non-string id is not echoed')
    t.equal(result.event_id, undefined)
  })
  t.test('a routing key mismatch echoes them', async t => {
    const result = invalid(t, validateEvent(event('training.started'), 'training.progress'))
    t.equal(result.event_id, ENVELOPE.event_id)
    t.equal(result.job_id, ENVELOPE.job_id)
  })
})

t.test('the package entry point exports the validators', async t => {
  const index = await import('../src/index.ts')
  t.equal(index.parseEvent, parseEvent)
  t.equal(index.validateEvent, validateEvent)
  t.equal(typeof index.applyEvent, 'function')
  t.equal(typeof index.compareStreamIds, 'function')
  t.equal(index.EXCHANGE, 'training.events')
})

t.test('message_id carries the event id when the body has none', async t => {
  const { event_id: _omitted, ...withoutId } = event('training.started')
  const taken = parseEvent(JSON.stringify(withoutId), 'training.started', 'from-message-id')
  t.ok(taken.ok)
  t.equal(taken.ok && taken.event.event_id, 'from-message-id')

  const bodyWins = parseEvent(JSON.stringify(event('training.started')), 'training.started', 'from-message-id')
  t.equal(bodyWins.ok && bodyWins.event.event_id, ENVELOPE.event_id, 'the body\'s own event_id wins')

  const neither = invalid(t, parseEvent(JSON.stringify(withoutId), 'training.started', ''))
  t.match(neither.message, /event_id/, 'an empty message_id does not count')
  const notObject = invalid(t, parseEvent('[1]', undefined, 'mid'))
  t.equal(notObject.reason, 'schema')
  const nullBody = invalid(t, parseEvent('null', undefined, 'mid'))
  t.equal(nullBody.reason, 'schema')
})
