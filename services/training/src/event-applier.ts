/**
 * Applies events to job state: load, reduce (the shared pure reducer),
 * commit with compare-and-set. Events of one job are applied one at a time,
 * in delivery order; different jobs proceed concurrently.
 */
import { applyEvent, type DropReason, type TrainingEvent } from '@training-live/events'
import type { JobStore } from './job-store.ts'

export type ApplyOutcome = { outcome: 'applied', id: string } | { outcome: DropReason }

const MAX_CONFLICTS = 10

export class ApplyConflictError extends Error {
  readonly code = 'TRAINING_APPLY_CONFLICT'
}

export class EventApplier {
  readonly #store: JobStore
  readonly #tails = new Map<string, Promise<unknown>>()

  constructor (store: JobStore) {
    this.#store = store
  }

  /** Resolves once the event is durably applied (or known to be a duplicate); rejects if Redis fails. */
  apply (event: TrainingEvent): Promise<ApplyOutcome> {
    const key = `${event.tenant_id}/${event.job_id}`
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const run = previous.then(() => this.#applyNow(event), () => this.#applyNow(event))
    const tail = run.catch(() => {})
    this.#tails.set(key, tail)
    void tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key) })
    return run
  }

  /** Jobs with an event being applied now. */
  get busyJobs (): number {
    return this.#tails.size
  }

  async #applyNow (event: TrainingEvent): Promise<ApplyOutcome> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const { state, version } = await this.#store.load(event.tenant_id, event.job_id)
      const result = applyEvent(state, event)
      if (result.message === null) return { outcome: result.dropped }
      const committed = await this.#store.commit(event.tenant_id, event.job_id, version, result.state, JSON.stringify(result.message))
      if (committed.ok) return { outcome: 'applied', id: committed.id }
    }
    throw new ApplyConflictError(`job ${event.tenant_id}/${event.job_id} changed concurrently ${MAX_CONFLICTS} times`)
  }
}
