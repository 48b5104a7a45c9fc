/**
 * The jobs the demo's simulator has started, newest last, as the demo plugin
 * serves them to the page. Bounded: the demo runs for as long as one likes.
 * The times come from the simulator's own events: the page, which may open
 * late, learns from them what a snapshot does not say.
 */
import type { TrainingEvent } from '@training-live/events'

export interface DemoJob {
  tenant_id: string
  job_id: string
  /** The `training.started` event's timestamp (RFC 3339). */
  started_at: string
  /** The `training.completed` or `training.failed` event's timestamp, once sent. */
  finished_at?: string
}

export class DemoJobList {
  readonly #jobs: DemoJob[] = []
  readonly #limit: number

  constructor (limit = 50) {
    this.#limit = limit
  }

  #find (tenantId: string, jobId: string): DemoJob | undefined {
    return this.#jobs.find(j => j.tenant_id === tenantId && j.job_id === jobId)
  }

  add (job: DemoJob): void {
    if (this.#find(job.tenant_id, job.job_id) !== undefined) return
    this.#jobs.push({ ...job })
    if (this.#jobs.length > this.#limit) this.#jobs.splice(0, this.#jobs.length - this.#limit)
  }

  /** Takes what it needs from a simulated event (the simulator's onEvent): a job's start and end. */
  record (event: TrainingEvent): void {
    const { tenant_id: tenantId, job_id: jobId, timestamp } = event
    if (event.type === 'training.started') this.add({ tenant_id: tenantId, job_id: jobId, started_at: timestamp })
    if (event.type === 'training.completed' || event.type === 'training.failed') {
      const job = this.#find(tenantId, jobId)
      if (job !== undefined) job.finished_at ??= timestamp
    }
  }

  /** Every job kept, or those of one tenant, oldest first. */
  list (tenantId?: string): DemoJob[] {
    return this.#jobs.filter(j => tenantId === undefined || j.tenant_id === tenantId)
  }
}
