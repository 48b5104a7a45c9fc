/**
 * Job plans: every plan a seed can give is a valid job per the contract, and
 * the seed decides exactly which jobs fail.
 */
import { randomUUID } from 'node:crypto'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { EventType, initialJobState, productsProgress, reduceEvents, validateEvent, type TrainingEvent } from '@training-live/events'
import { DATA_ANALYSIS_STEP, jobIdOf, planBatch, planJob, productNames, type JobPlan } from '../src/plan.ts'
import { MAX_SEED, seededRandom } from '../src/random.ts'

const TENANT = 'tenant_plan'
const T0 = Date.parse('2025-10-08T12:00:00.000Z')

/** The plan's events as the runner sends them: envelope added, measured duration filled in. */
function envelop (plan: JobPlan): TrainingEvent[] {
  return plan.events.map((e, i) => ({
    event_id: randomUUID(),
    tenant_id: TENANT,
    job_id: plan.jobId,
    timestamp: new Date(T0 + i).toISOString(),
    ...(e.type === EventType.Completed ? { ...e, data: { ...e.data, total_duration: i / 10 } } : e)
  }) as TrainingEvent)
}

/** Throws, naming the rule, unless `plan` is a valid job that ends as it says. */
function assertValidPlan (plan: JobPlan): void {
  const events = envelop(plan)
  for (const event of events) {
    const checked = validateEvent(event, event.type)
    assert.ok(checked.ok, `valid per the schema: ${checked.ok ? '' : checked.message}`)
  }
  const total = plan.totalProducts
  assert.deepEqual(plan.events[0], { type: EventType.Started, data: { total_products: total } }, 'started first, with the total')
  assert.equal(plan.events[1]?.type, EventType.Progress, 'data analysis next')
  assert.equal((plan.events[1]?.data as { step: string }).step, DATA_ANALYSIS_STEP)
  const terminal = plan.events.at(-1)
  assert.equal(terminal?.type, plan.outcome === 'completed' ? EventType.Completed : EventType.Failed, 'terminal last')

  const products = plan.events.slice(2, -1)
  assert.ok(products.every(e => e.type === EventType.ProductCompleted), 'only products between data analysis and the end')
  const names = products.map(e => (e.data as { product_name: string }).product_name)
  assert.deepEqual(names, plan.productsCompleted)
  assert.equal(new Set(names).size, names.length, 'distinct products')
  assert.ok(names.every(n => productNames(total).includes(n)), 'products of the job')
  assert.deepEqual(products.map(e => (e.data as { products_completed: number }).products_completed), names.map((_, i) => i + 1), 'the worker counts up')
  assert.ok(products.every(e => (e.data as { total_products: number }).total_products === total))

  const { state } = reduceEvents(initialJobState(TENANT, plan.jobId), events)
  if (plan.outcome === 'completed') {
    assert.equal(names.length, total, 'a completed job completes every product')
    assert.deepEqual(terminal?.data, { successful_trainings: total, failed_trainings: 0 })
    assert.equal(state.status, 'completed')
    assert.equal(state.progress, 100)
  } else {
    assert.ok(names.length < total || total === 0, 'a failed job stops before its last product')
    assert.match((terminal?.data as { error: string }).error, /^simulated failure /)
    assert.equal(state.status, 'failed')
    assert.equal(state.progress, productsProgress(names.length, total), 'the progress it had reached')
  }
}

t.test('a completed job: started, data analysis, every product once in shuffled order, completed', async t => {
  const plan = planJob('job_a', 8, false, seededRandom(1))
  assertValidPlan(plan)
  t.same(plan.events.map(e => e.type), [
    'training.started', 'training.progress', ...Array(8).fill('training.product.completed'), 'training.completed'
  ])
  t.same([...plan.productsCompleted].sort(), productNames(8).sort())
  t.notSame(plan.productsCompleted, productNames(8), 'not in name order (for this seed)')
  t.match(plan.events[2]?.data, { current_step: `Trained ${plan.productsCompleted[0] as string}`, step_details: { accuracy: Number } })
})

t.test('a failed job fails while training a product it never completes', async t => {
  const plan = planJob('job_b', 5, true, seededRandom(3))
  assertValidPlan(plan)
  t.equal(plan.outcome, 'failed')
  const error = (plan.events.at(-1)?.data as { error: string }).error
  const failing = error.replace('simulated failure while training ', '')
  t.ok(productNames(5).includes(failing), error)
  t.notOk(plan.productsCompleted.includes(failing))
})

t.test('a job of no products: started, data analysis, then its end', async t => {
  const done = planJob('job_c', 0, false, seededRandom(1))
  const failed = planJob('job_d', 0, true, seededRandom(1))
  assertValidPlan(done)
  assertValidPlan(failed)
  t.same(done.events.map(e => e.type), ['training.started', 'training.progress', 'training.completed'])
  t.same(failed.events.at(-1), { type: 'training.failed', data: { error: 'simulated failure during data analysis' } })
})

t.test('a batch: ids from the prefix, failures by the ratio, the same for the same seed', async t => {
  const input = { jobs: 10, products: 4, failRatio: 0.3, seed: 99, jobIdPrefix: 'sim_x' }
  const plans = planBatch(input)
  t.same(plans.map(p => p.jobId), Array.from({ length: 10 }, (_, i) => jobIdOf('sim_x', i)))
  t.equal(plans[0]?.jobId, 'sim_x_1')
  t.equal(plans.filter(p => p.outcome === 'failed').length, 3)
  t.same(planBatch(input), plans, 'deterministic')
  const others = [100, 101, 102].map(seed => planBatch({ ...input, seed }).map(p => p.outcome).join())
  t.ok(others.some(o => o !== plans.map(p => p.outcome).join()), 'another seed fails other jobs')
  t.equal(planBatch({ ...input, failRatio: 0 }).filter(p => p.outcome === 'failed').length, 0)
  t.equal(planBatch({ ...input, failRatio: 1 }).filter(p => p.outcome === 'failed').length, 10)
})

t.test('property: every plan of every batch is a valid job, and round(ratio x jobs) of them fail', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 0, max: 25 }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.integer({ min: 0, max: MAX_SEED }),
    (jobs, products, failRatio, seed) => {
      const plans = planBatch({ jobs, products, failRatio, seed, jobIdPrefix: 'sim_prop' })
      plans.forEach(assertValidPlan)
      assert.equal(plans.filter(p => p.outcome === 'failed').length, Math.round(failRatio * jobs))
    }
  ), { numRuns: 300 })
  t.pass('300 batches')
})
