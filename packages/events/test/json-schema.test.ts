import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t from 'tap'
import { renderSchemaFiles } from '../src/json-schema.ts'
import { validateEvent } from '../src/validate.ts'

const SCHEMA_DIR = fileURLToPath(new URL('../schema/', import.meta.url))
const STALE = 'schema files are out of date: run `pnpm schemas` in packages/events (or `pnpm schemas` at the root) and commit the result'

// ajv-formats is CommonJS; under Node's ESM interop its function is the default export's `default`.
const addFormats = addFormatsModule.default

function readSchema (name: string): string {
  return readFileSync(SCHEMA_DIR + name, 'utf8')
}

const rendered = renderSchemaFiles()

function newAjv (): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  addFormats(ajv)
  return ajv
}

t.test('the committed schema files are what renderSchemaFiles() produces', async t => {
  const names = Object.keys(rendered).sort()
  t.strictSame(names, [
    'live-connected-message.json',
    'live-event-message.json',
    'live-server-message.json',
    'training-event.json',
    'training.completed.json',
    'training.failed.json',
    'training.product.completed.json',
    'training.progress.json',
    'training.started.json'
  ])
  t.strictSame(readdirSync(SCHEMA_DIR).filter(f => f.endsWith('.json')).sort(), names, `no missing or leftover file in schema/; ${STALE}`)
  for (const name of names) {
    let committed: string
    try {
      committed = readSchema(name)
    } catch {
      t.fail(`schema/${name} is missing; ${STALE}`)
      continue
    }
    t.equal(committed, rendered[name], `schema/${name} is up to date; if not, ${STALE}`)
  }
})

t.test('each rendered file is a 2020-12 schema with its own $id', async t => {
  for (const [name, text] of Object.entries(rendered)) {
    t.ok(text.endsWith('}\n'), `${name} ends with a newline`)
    const doc = JSON.parse(text) as Record<string, unknown>
    t.equal(doc.$schema, 'https://json-schema.org/draft/2020-12/schema', name)
    t.equal(doc.$id, `https://training-live.dev/schema/${name}`, name)
    t.equal(Object.keys(doc)[0], '$schema', 'the header comes first')
  }
  t.equal(JSON.parse(rendered['training.started.json'] ?? '{}').title, 'training.started')
})

t.test('the published schemas compile with a strict 2020-12 validator', async t => {
  const ajv = newAjv()
  for (const [name, text] of Object.entries(rendered)) {
    t.doesNotThrow(() => ajv.compile(JSON.parse(text)), name)
  }
})

const EXAMPLE_ENVELOPE = {
  event_id: '7b1e3c0a-5f1d-4c3e-9d1e-2f0c4b9a8e11',
  job_id: 'training_abc123',
  tenant_id: 'tenant_xyz',
  timestamp: '2025-10-08T12:34:56.789Z'
}

t.test('training-event.json accepts the contract\'s example events and refuses bad ones, like validateEvent', async t => {
  const validate = newAjv().compile(JSON.parse(readSchema('training-event.json')))
  const good: Array<Record<string, unknown>> = [
    { ...EXAMPLE_ENVELOPE, type: 'training.product.completed', data: { product_name: 'widgets', total_products: 3, products_completed: 1, current_step: 'Model Training', step_details: { epoch: 2 } } },
    { ...EXAMPLE_ENVELOPE, type: 'training.started', data: { total_products: 3 } },
    { ...EXAMPLE_ENVELOPE, type: 'training.progress', data: { step: 'Data Analysis', progress: 12.5 } },
    { ...EXAMPLE_ENVELOPE, type: 'training.completed', data: { successful_trainings: 3, failed_trainings: 0, total_duration: 321.5 } },
    { ...EXAMPLE_ENVELOPE, type: 'training.failed', data: { error: 'out of memory' } },
    { ...EXAMPLE_ENVELOPE, type: 'training.completed', data: { anything: ['extra'] }, worker: 'gpu-1' }
  ]
  for (const body of good) {
    t.equal(validate(body), true, `${String(body.type)} valid: ${JSON.stringify(validate.errors)}`)
    t.equal(validateEvent(body).ok, true, 'validateEvent agrees')
  }
  const bad: Array<[string, Record<string, unknown>]> = [
    ['the contract\'s literal example, whose data lacks the required fields', { ...EXAMPLE_ENVELOPE, type: 'training.product.completed', data: {} }],
    ['unknown type', { ...EXAMPLE_ENVELOPE, type: 'training.paused', data: {} }],
    ['bad job id', { ...EXAMPLE_ENVELOPE, job_id: 'a/b', type: 'training.failed', data: { error: 'x' } }],
    ['bad timestamp', { ...EXAMPLE_ENVELOPE, timestamp: 'yesterday', type: 'training.failed', data: { error: 'x' } }],
    ['no event id', { job_id: 'j', tenant_id: 't', timestamp: EXAMPLE_ENVELOPE.timestamp, type: 'training.failed', data: { error: 'x' } }],
    ['negative total', { ...EXAMPLE_ENVELOPE, type: 'training.started', data: { total_products: -1 } }]
  ]
  for (const [why, body] of bad) {
    t.equal(validate(body), false, `refused: ${why}`)
    t.equal(validateEvent(body).ok, false, `validateEvent agrees: ${why}`)
  }
})

t.test('the per-type files validate their own type only', async t => {
  const ajv = newAjv()
  const started = ajv.compile(JSON.parse(readSchema('training.started.json')))
  t.equal(started({ ...EXAMPLE_ENVELOPE, type: 'training.started', data: { total_products: 0 } }), true)
  t.equal(started({ ...EXAMPLE_ENVELOPE, type: 'training.failed', data: { total_products: 0 } }), false)
})

t.test('live message schemas accept what the services send', async t => {
  const ajv = newAjv()
  const server = ajv.compile(JSON.parse(readSchema('live-server-message.json')))
  const connected = {
    type: 'connected',
    job_id: 'training_abc123',
    tenant_id: 'tenant_xyz',
    timestamp: '2025-10-08T12:34:57.000Z',
    data: { status: 'running', progress: 40, products_completed: 1, total_products: 3, current_step: 'Model Training', last_id: '1759926896789-0' }
  }
  const live = {
    id: '1759926896789-0',
    type: 'product_completed',
    job_id: 'training_abc123',
    tenant_id: 'tenant_xyz',
    timestamp: '2025-10-08T12:34:56.789Z',
    progress: 40,
    data: { product_name: 'widgets', status: 'running', products_completed: 1, total_products: 3, current_step: null }
  }
  t.equal(server(connected), true, JSON.stringify(server.errors))
  t.equal(server(live), true, JSON.stringify(server.errors))
  t.equal(server({ type: 'pong' }), true)
  t.equal(server({ type: 'error', code: 'bad_request', message: 'nope' }), true)
  t.equal(server({ ...live, progress: 101 }), false, 'progress is at most 100')
  t.equal(server({ ...connected, data: { ...connected.data, status: 'paused' } }), false, 'status is one of four')
})
