import t from 'tap'
import {
  BINDING_KEY, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EVENT_TYPES, EXCHANGE, ID_PATTERN, LIVE_MESSAGE_TYPE, LIVE_PATH,
  TERMINAL_STATUSES, Stage, livePath
} from '../src/constants.ts'

t.test('AMQP names of contract §1', async t => {
  t.equal(EXCHANGE, 'training.events')
  t.equal(BINDING_KEY, 'training.#', 'matches training.product.completed too')
  t.equal(DEAD_LETTER_EXCHANGE, 'training.events.dlx')
  t.equal(DEAD_LETTER_QUEUE, 'training.progress.dead')
  t.strictSame([...EVENT_TYPES], [
    'training.started', 'training.progress', 'training.product.completed', 'training.completed', 'training.failed'
  ])
})

t.test('live message type per event type', async t => {
  t.strictSame(LIVE_MESSAGE_TYPE, {
    'training.started': 'started',
    'training.progress': 'progress',
    'training.product.completed': 'product_completed',
    'training.completed': 'completed',
    'training.failed': 'failed'
  })
})

t.test('stages and terminal statuses of contract §2', async t => {
  t.strictSame(Stage, { Started: 0, DataAnalysis: 20, ProductsEnd: 80, Completed: 100 })
  t.strictSame([...TERMINAL_STATUSES], ['completed', 'failed'])
})

t.test('ID_PATTERN', async t => {
  const re = new RegExp(ID_PATTERN)
  t.ok(re.test('tenant_xyz'))
  t.ok(re.test('a'.repeat(128)))
  t.notOk(re.test('a'.repeat(129)))
  t.notOk(re.test('a/b'))
  t.notOk(re.test(''))
})

t.test('livePath', async t => {
  t.equal(LIVE_PATH, '/api/v1/tenants/:tenant_id/training/jobs/:job_id/live')
  t.equal(livePath('tenant_xyz', 'training_abc123'), '/api/v1/tenants/tenant_xyz/training/jobs/training_abc123/live')
  t.equal(livePath('a/b', 'j?x=1#y'), '/api/v1/tenants/a%2Fb/training/jobs/j%3Fx%3D1%23y/live', 'ids are escaped')
})
