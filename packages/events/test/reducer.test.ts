import t, { type Test } from 'tap'
import {
  applyEvent, initialJobState, isTerminal, productsProgress, reduceEvents, snapshotOf, summaryOf,
  type ApplyResult, type JobState, type LiveMessageBody
} from '../src/reducer.ts'
import type {
  CompletedEvent, FailedEvent, ProductCompletedEvent, ProgressEvent, StartedEvent, TrainingEvent
} from '../src/schemas.ts'

const TENANT = 'tenant_reducer_unit'
const JOB = 'training_reducer_unit'
const T0 = Date.parse('2025-10-08T12:00:00.000Z')

/** ISO timestamp `seconds` after a fixed origin. */
function at (seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString()
}

type Extra = Record<string, unknown>

function started (id: string, seconds: number, total: number, extra: Extra = {}): StartedEvent {
  return { event_id: id, type: 'training.started', job_id: JOB, tenant_id: TENANT, timestamp: at(seconds), data: { ...extra, total_products: total } }
}
function progress (id: string, seconds: number, step: string, extra: Extra = {}): ProgressEvent {
  return { event_id: id, type: 'training.progress', job_id: JOB, tenant_id: TENANT, timestamp: at(seconds), data: { ...extra, step } }
}
function product (id: string, seconds: number, name: string, total: number, extra: Extra = {}): ProductCompletedEvent {
  return { event_id: id, type: 'training.product.completed', job_id: JOB, tenant_id: TENANT, timestamp: at(seconds), data: { ...extra, product_name: name, total_products: total } }
}
function completed (id: string, seconds: number, extra: Extra = {}): CompletedEvent {
  return { event_id: id, type: 'training.completed', job_id: JOB, tenant_id: TENANT, timestamp: at(seconds), data: { ...extra } }
}
function failed (id: string, seconds: number, error: string, extra: Extra = {}): FailedEvent {
  return { event_id: id, type: 'training.failed', job_id: JOB, tenant_id: TENANT, timestamp: at(seconds), data: { ...extra, error } }
}

function fresh (): JobState {
  return initialJobState(TENANT, JOB)
}

/** Applies an event that must be accepted, and returns its state and message. */
function accept (t: Test, state: JobState, event: TrainingEvent): { state: JobState, message: LiveMessageBody } {
  const result: ApplyResult = applyEvent(state, event)
  if (result.message === null) {
    t.fail(`event ${event.event_id} was dropped: ${result.dropped}`)
    throw new Error('dropped')
  }
  t.equal(result.dropped, undefined, 'an accepted event has no drop reason')
  return { state: result.state, message: result.message }
}

t.test('initialJobState is pending with nothing seen', async t => {
  t.strictSame(fresh(), {
    tenant_id: TENANT,
    job_id: JOB,
    status: 'pending',
    progress: 0,
    total_products: null,
    products: [],
    current_step: null,
    step_key: null,
    error: null,
    started_at: null,
    updated_at: null,
    event_ids: []
  })
})

t.test('isTerminal is true only for completed and failed', async t => {
  t.equal(isTerminal('pending'), false)
  t.equal(isTerminal('running'), false)
  t.equal(isTerminal('completed'), true)
  t.equal(isTerminal('failed'), true)
})

t.test('productsProgress', async t => {
  t.test('documented examples', async t => {
    t.equal(productsProgress(0, 3), 20)
    t.equal(productsProgress(1, 3), 40)
    t.equal(productsProgress(2, 3), 60)
    t.equal(productsProgress(3, 3), 80)
    t.equal(productsProgress(1, 7), 28, '20 + floor(8.57)')
    t.equal(productsProgress(5, 8), 57, '20 + floor(37.5)')
    t.equal(productsProgress(1, 1), 80)
  })
  t.test('matches integer arithmetic for every total up to 100', async t => {
    const wrong: string[] = []
    for (let total = 1; total <= 100; total++) {
      for (let done = 0; done <= total; done++) {
        const expected = 20 + Math.floor((done * 60) / total)
        const actual = productsProgress(done, total)
        if (actual !== expected) wrong.push(`${done}/${total}: ${actual} != ${expected}`)
      }
    }
    t.strictSame(wrong, [], 'no rounding error')
  })
  t.test('more products than the total caps at 80', async t => {
    t.equal(productsProgress(4, 3), 80)
    t.equal(productsProgress(100, 1), 80)
  })
  t.test('no usable total stays at the data-analysis stage', async t => {
    t.equal(productsProgress(2, null), 20)
    t.equal(productsProgress(0, null), 20)
    t.equal(productsProgress(2, 0), 20)
    t.equal(productsProgress(2, -1), 20)
  })
})

t.test('stages in the normal order', async t => {
  let state = fresh()
  const seen: number[] = []
  const steps: Array<[TrainingEvent, number, string]> = [
    [started('s', 0, 3), 0, 'started'],
    [progress('p', 1, 'Data Analysis'), 20, 'progress'],
    [product('c1', 2, 'apples', 3), 40, 'product_completed'],
    [product('c2', 3, 'pears', 3), 60, 'product_completed'],
    [product('c3', 4, 'plums', 3), 80, 'product_completed'],
    [completed('done', 5), 100, 'completed']
  ]
  for (const [event, expected, type] of steps) {
    const r = accept(t, state, event)
    t.equal(r.state.progress, expected, `${event.type} -> ${expected}`)
    t.equal(r.message.progress, expected, 'message carries the job progress')
    t.equal(r.message.type, type, `${event.type} -> message type ${type}`)
    seen.push(r.message.progress)
    state = r.state
  }
  t.strictSame(seen, [0, 20, 40, 60, 80, 100])
  t.equal(state.status, 'completed')
  t.strictSame(state.products, ['apples', 'pears', 'plums'])
  t.strictSame(state.event_ids, ['c1', 'c2', 'c3', 'done', 'p', 's'], 'ids kept sorted')
  t.equal(state.started_at, at(0))
  t.equal(state.updated_at, at(5))
  t.equal(state.total_products, 3)
  t.equal(state.error, null)
})

t.test('started sets running, total and started_at, progress 0', async t => {
  const before = fresh()
  const frozen = structuredClone(before)
  const { state, message } = accept(t, before, started('s1', 0, 4, { model: 'xgb' }))
  t.strictSame(before, frozen, 'the input state is not mutated')
  t.equal(state.status, 'running')
  t.equal(state.progress, 0)
  t.equal(state.total_products, 4)
  t.equal(state.started_at, at(0))
  t.strictSame(message, {
    type: 'started',
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: at(0),
    progress: 0,
    data: { model: 'xgb', total_products: 4, status: 'running', products_completed: 0, current_step: null }
  })
})

t.test('a second started event keeps the larger total and the earliest started_at', async t => {
  let state = accept(t, fresh(), started('s1', 10, 4)).state
  state = accept(t, state, started('s2', 11, 2)).state
  t.equal(state.total_products, 4, 'a smaller total does not shrink it')
  t.equal(state.started_at, at(10), 'a later announcement does not move started_at')
  state = accept(t, state, started('s3', 5, 6)).state
  t.equal(state.total_products, 6, 'a larger total raises it')
  t.equal(state.started_at, at(5), 'an earlier announcement arriving late moves started_at back')
  t.equal(state.updated_at, at(11), 'updated_at stays the latest event time')
})

t.test('progress event: stage 20, step recorded, worker fields forwarded', async t => {
  const { state, message } = accept(t, accept(t, fresh(), started('s', 0, 2)).state,
    progress('p', 1, 'Data Analysis', { progress: 55.5, detail: { rows: 10 } }))
  t.equal(state.progress, 20)
  t.equal(state.current_step, 'Data Analysis')
  t.strictSame(message, {
    type: 'progress',
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: at(1),
    progress: 20,
    data: {
      progress: 55.5,
      detail: { rows: 10 },
      step: 'Data Analysis',
      status: 'running',
      products_completed: 0,
      total_products: 2,
      current_step: 'Data Analysis'
    }
  }, 'data.progress is the worker\'s own figure; the top-level progress is the job\'s')
})

t.test('a progress event before started makes the job running at 20 with no total', async t => {
  const { state, message } = accept(t, fresh(), progress('p', 0, 'Data Analysis'))
  t.equal(state.status, 'running')
  t.equal(state.progress, 20)
  t.equal(state.total_products, null)
  t.equal(state.started_at, null)
  t.equal(message.data.total_products, null)
})

t.test('product_completed message shape', async t => {
  let state = accept(t, fresh(), started('s', 0, 3)).state
  const r = accept(t, state, product('c1', 1, 'apples', 3, {
    products_completed: 7,
    current_step: 'Model Training',
    step_details: { epoch: 3 },
    status: 'bogus'
  }))
  state = r.state
  t.strictSame(r.message, {
    type: 'product_completed',
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: at(1),
    progress: 40,
    data: {
      products_completed: 1,
      current_step: 'Model Training',
      step_details: { epoch: 3 },
      status: 'running',
      product_name: 'apples',
      total_products: 3
    }
  }, 'computed status and distinct count override the worker\'s fields; other fields are forwarded')
  t.equal(state.current_step, 'Model Training')
})

t.test('distinct products: the same product twice counts once but still emits', async t => {
  let state = accept(t, fresh(), started('s', 0, 3)).state
  const first = accept(t, state, product('c1', 1, 'apples', 3))
  state = first.state
  t.equal(first.message.progress, 40)
  const again = accept(t, state, product('c1-retry', 2, 'apples', 3))
  t.equal(again.state.progress, 40, 'progress unchanged')
  t.equal(again.message.progress, 40, 'a message is still emitted')
  t.equal(again.message.data.products_completed, 1)
  t.strictSame(again.state.products, ['apples'])
  t.strictSame(again.state.event_ids, ['c1', 'c1-retry', 's'])
  const second = accept(t, again.state, product('c2', 3, 'pears', 3))
  t.equal(second.message.progress, 60)
  t.equal(second.message.data.products_completed, 2)
})

t.test('more distinct products than the total caps at 80', async t => {
  const { state, messages } = reduceEvents(fresh(), [
    started('s', 0, 2),
    product('c1', 1, 'a', 2),
    product('c2', 2, 'b', 2),
    product('c3', 3, 'c', 2),
    product('c4', 4, 'd', 2)
  ])
  t.strictSame(messages.map(m => m.progress), [0, 50, 80, 80, 80])
  t.equal(state.progress, 80)
  t.equal(state.products.length, 4, 'every distinct product is still counted')
  t.equal(state.total_products, 2)
})

t.test('a product event can raise the total, never lower it', async t => {
  let state = accept(t, fresh(), started('s', 0, 2)).state
  let r = accept(t, state, product('c1', 1, 'a', 4))
  t.equal(r.state.total_products, 4)
  t.equal(r.state.progress, 35, '1/4 -> 20 + 15')
  state = r.state
  r = accept(t, state, product('c2', 2, 'b', 1))
  t.equal(r.state.total_products, 4, 'a smaller total is ignored')
  t.equal(r.state.progress, 50, '2/4')
})

t.test('a product event without a started event announces the total itself', async t => {
  const { state, message } = accept(t, fresh(), product('c1', 0, 'a', 3))
  t.equal(state.status, 'running')
  t.equal(state.total_products, 3)
  t.equal(state.progress, 40)
  t.equal(message.data.current_step, null, 'no current_step without a step')
})

t.test('progress never goes down when events arrive late', async t => {
  t.test('late started', async t => {
    const { state, messages } = reduceEvents(fresh(), [
      product('c1', 2, 'a', 3),
      product('c2', 3, 'b', 3),
      started('s', 0, 3)
    ])
    t.strictSame(messages.map(m => m.progress), [40, 60, 60])
    t.equal(messages[2]?.type, 'started')
    t.equal(state.progress, 60)
    t.equal(state.started_at, at(0))
  })
  t.test('late progress', async t => {
    const { state, messages } = reduceEvents(fresh(), [
      started('s', 0, 2),
      product('c1', 2, 'a', 2),
      progress('p', 1, 'Data Analysis')
    ])
    t.strictSame(messages.map(m => m.progress), [0, 50, 50])
    t.equal(state.progress, 50)
  })
  t.test('a larger total announced late does not lower progress', async t => {
    const { state, messages } = reduceEvents(fresh(), [
      started('s1', 0, 2),
      product('c1', 1, 'a', 2),
      started('s2', 2, 6),
      product('c2', 3, 'b', 6)
    ])
    t.strictSame(messages.map(m => m.progress), [0, 50, 50, 50], '2/6 would be 40')
    t.equal(state.total_products, 6)
  })
})

t.test('completed: 100, terminal', async t => {
  const { state, messages } = reduceEvents(fresh(), [
    started('s', 0, 3),
    product('c1', 1, 'a', 3),
    completed('done', 2, { successful_trainings: 2, failed_trainings: 1, total_duration: 12.5 })
  ])
  t.equal(state.status, 'completed')
  t.equal(state.progress, 100)
  t.strictSame(messages[2], {
    type: 'completed',
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: at(2),
    progress: 100,
    data: {
      successful_trainings: 2,
      failed_trainings: 1,
      total_duration: 12.5,
      status: 'completed',
      products_completed: 1,
      total_products: 3,
      current_step: null
    }
  })
})

t.test('failed: progress kept, status failed, error recorded', async t => {
  const { state, messages } = reduceEvents(fresh(), [
    started('s', 0, 3),
    product('c1', 1, 'a', 3),
    product('c2', 2, 'b', 3),
    failed('f', 3, 'GPU out of memory', { exit_code: 137 })
  ])
  t.equal(state.status, 'failed')
  t.equal(state.progress, 60)
  t.equal(state.error, 'GPU out of memory')
  t.strictSame(messages[3], {
    type: 'failed',
    job_id: JOB,
    tenant_id: TENANT,
    timestamp: at(3),
    progress: 60,
    data: {
      exit_code: 137,
      error: 'GPU out of memory',
      status: 'failed',
      products_completed: 2,
      total_products: 3,
      current_step: null
    }
  })
})

t.test('a job can fail before it starts', async t => {
  const { state, message } = accept(t, fresh(), failed('f', 0, 'bad config'))
  t.equal(state.status, 'failed')
  t.equal(state.progress, 0)
  t.equal(message.progress, 0)
  t.equal(message.data.total_products, null)
})

t.test('duplicate event ids are dropped with the identical state', async t => {
  const state = reduceEvents(fresh(), [started('s', 0, 3), product('c1', 1, 'a', 3)]).state
  for (const event of [started('s', 0, 3), product('c1', 1, 'a', 3), product('c1', 9, 'other', 9)]) {
    const result = applyEvent(state, event)
    t.equal(result.message, null)
    t.equal(result.dropped, 'duplicate')
    t.equal(result.state, state, 'the very same state object comes back')
  }
  t.test('reduceEvents emits nothing for duplicates', async t => {
    const { state: after, messages } = reduceEvents(state, [product('c1', 1, 'a', 3), started('s', 0, 3)])
    t.equal(after, state)
    t.strictSame(messages, [])
  })
})

t.test('events after a terminal status are dropped', async t => {
  for (const terminal of [completed('end', 5), failed('end', 5, 'boom')]) {
    t.test(terminal.type, async t => {
      const state = reduceEvents(fresh(), [started('s', 0, 2), terminal]).state
      for (const late of [progress('p', 1, 'Data Analysis'), product('c1', 2, 'a', 2), started('s2', 0, 2), completed('end2', 6), failed('f2', 6, 'late')]) {
        const result = applyEvent(state, late)
        t.equal(result.message, null, `${late.type} after ${terminal.type} emits nothing`)
        t.equal(result.dropped, 'terminal')
        t.equal(result.state, state, 'the very same state object comes back')
      }
      const again = applyEvent(state, terminal)
      t.equal(again.dropped, 'duplicate', 'a redelivered terminal event counts as a duplicate')
      t.equal(again.state, state)
    })
  }
})

t.test('current_step follows the latest timestamp, not arrival order', async t => {
  t.test('an older step arriving later does not replace it', async t => {
    let state = accept(t, fresh(), progress('p2', 10, 'Model Training')).state
    const late = accept(t, state, progress('p1', 5, 'Data Analysis'))
    state = late.state
    t.equal(state.current_step, 'Model Training')
    t.equal((late.message.data as Record<string, unknown>).step, 'Data Analysis', 'the event\'s own step is forwarded')
    t.equal(late.message.data.current_step, 'Model Training')
    t.equal(state.updated_at, at(10), 'updated_at is the latest event time too')
  })
  t.test('a newer step replaces it', async t => {
    let state = accept(t, fresh(), progress('p1', 5, 'Data Analysis')).state
    state = accept(t, state, progress('p2', 10, 'Model Training')).state
    t.equal(state.current_step, 'Model Training')
    t.equal(state.updated_at, at(10))
  })
  t.test('product events with a current_step compete on the same clock', async t => {
    const { state } = reduceEvents(fresh(), [
      product('c2', 20, 'b', 2, { current_step: 'Evaluation' }),
      progress('p', 15, 'Model Training'),
      product('c1', 10, 'a', 2, { current_step: 'Feature Engineering' }),
      product('c3', 30, 'c', 2)
    ])
    t.equal(state.current_step, 'Evaluation', 'a product event without current_step leaves it')
  })
  t.test('same timestamp: the larger event id wins, in either order', async t => {
    const a = progress('evt-a', 5, 'Step A')
    const b = progress('evt-b', 5, 'Step B')
    t.equal(reduceEvents(fresh(), [a, b]).state.current_step, 'Step B')
    t.equal(reduceEvents(fresh(), [b, a]).state.current_step, 'Step B')
  })
  t.test('milliseconds matter', async t => {
    const early = { ...progress('z', 0, 'Early'), timestamp: '2025-10-08T12:00:00.001Z' }
    const later = { ...progress('a', 0, 'Later'), timestamp: '2025-10-08T12:00:00.002Z' }
    t.equal(reduceEvents(fresh(), [later, early]).state.current_step, 'Later')
  })
  t.test('time zones are compared as instants', async t => {
    const utc = { ...progress('a', 0, 'UTC 11:00'), timestamp: '2025-10-08T11:00:00Z' }
    const paris = { ...progress('b', 0, 'Paris 12:30 = 10:30 UTC'), timestamp: '2025-10-08T12:30:00+02:00' }
    t.equal(reduceEvents(fresh(), [utc, paris]).state.current_step, 'UTC 11:00')
    t.equal(reduceEvents(fresh(), [paris, utc]).state.current_step, 'UTC 11:00')
  })
})

t.test('reduceEvents returns the final state and the emitted messages in order', async t => {
  const { state, messages } = reduceEvents(fresh(), [
    started('s', 0, 1),
    started('s', 0, 1),
    product('c1', 1, 'a', 1),
    completed('done', 2),
    progress('late', 3, 'Data Analysis')
  ])
  t.strictSame(messages.map(m => [m.type, m.progress]), [['started', 0], ['product_completed', 80], ['completed', 100]])
  t.equal(state.progress, 100)
  t.strictSame(state.event_ids, ['c1', 'done', 's'])
  t.test('empty input returns the state as given', async t => {
    const initial = fresh()
    const r = reduceEvents(initial, [])
    t.equal(r.state, initial)
    t.strictSame(r.messages, [])
  })
  t.test('accepts any iterable', async t => {
    function * gen (): Generator<TrainingEvent> {
      yield started('s', 0, 2)
      yield product('c1', 1, 'a', 2)
    }
    t.strictSame(reduceEvents(fresh(), gen()).messages.map(m => m.progress), [0, 50])
  })
})

t.test('snapshotOf', async t => {
  t.test('initial state', async t => {
    t.strictSame(snapshotOf(summaryOf(fresh()), null), {
      status: 'pending',
      progress: 0,
      products_completed: 0,
      total_products: null,
      current_step: null,
      last_id: null
    })
  })
  t.test('running job, no error key', async t => {
    const { state } = reduceEvents(fresh(), [started('s', 0, 3), progress('p', 1, 'Data Analysis'), product('c1', 2, 'a', 3)])
    const snap = snapshotOf(summaryOf(state), '1759924800000-3')
    t.strictSame(snap, {
      status: 'running',
      progress: 40,
      products_completed: 1,
      total_products: 3,
      current_step: 'Data Analysis',
      last_id: '1759924800000-3'
    })
    t.notOk('error' in snap, 'no error key while there is no error')
  })
  t.test('failed job carries the error', async t => {
    const { state } = reduceEvents(fresh(), [started('s', 0, 3), failed('f', 1, 'disk full')])
    t.strictSame(snapshotOf(summaryOf(state), '5-0'), {
      status: 'failed',
      progress: 0,
      products_completed: 0,
      total_products: 3,
      current_step: null,
      last_id: '5-0',
      error: 'disk full'
    })
  })
})
