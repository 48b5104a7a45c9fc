/**
 * Nesting depth: JSON.parse accepts any depth, JSON.stringify does not. An
 * event nested deeper than MAX_EVENT_DEPTH is refused (and dead-lettered by
 * the consumer) instead of throwing later, on every redelivery.
 */
import t from 'tap'
import { MAX_EVENT_DEPTH, parseEvent, validateEvent } from '../src/validate.ts'

const ENVELOPE = {
  event_id: 'e-depth',
  job_id: 'training_depth',
  tenant_id: 'tenant_depth',
  timestamp: '2025-10-08T12:34:56.789Z'
}

/** An object `levels` levels deep, counting itself: nested(1) is {}. */
function nested (levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {}
  for (let i = 1; i < levels; i++) value = { n: value }
  return value
}

t.test('an event exactly MAX_EVENT_DEPTH levels deep is accepted', async t => {
  // The event is level 1, data level 2, so data may nest MAX_EVENT_DEPTH - 1 levels.
  const event = { ...ENVELOPE, type: 'training.progress', data: { step: 'Data Analysis', details: nested(MAX_EVENT_DEPTH - 2) } }
  t.equal(validateEvent(event, 'training.progress').ok, true)
})

t.test('one level more is refused as a schema error, naming the job', async t => {
  const event = { ...ENVELOPE, type: 'training.progress', data: { step: 'Data Analysis', details: nested(MAX_EVENT_DEPTH - 1) } }
  t.match(validateEvent(event, 'training.progress'), {
    ok: false, reason: 'schema', message: /deeper than 64 levels/, event_id: 'e-depth', tenant_id: 'tenant_depth', job_id: 'training_depth'
  })
})

t.test('bodies far deeper than JSON.stringify can handle never throw', async t => {
  const deep = '['.repeat(50_000) + ']'.repeat(50_000)
  const body = (field: string) => JSON.stringify({ ...ENVELOPE, type: 'training.progress', data: { step: 'x' }, [field]: '__DEEP__' }).replace('"__DEEP__"', deep)
  for (const field of ['type', 'extra', 'data']) {
    t.match(parseEvent(body(field), 'training.progress'), { ok: false, reason: 'schema' }, `deep ${field}`)
  }
  t.match(parseEvent(JSON.stringify({ ...ENVELOPE, type: 'training.progress', data: { step: 'x', deep: '__DEEP__' } }).replace('"__DEEP__"', deep), 'training.progress'),
    { ok: false, reason: 'schema' }, 'deep inside data')
})

t.test('a cyclic value is refused, not walked forever', async t => {
  const data: Record<string, unknown> = { step: 'x' }
  data.self = data
  t.match(validateEvent({ ...ENVELOPE, type: 'training.progress', data }, 'training.progress'), { ok: false, reason: 'schema' })
})
