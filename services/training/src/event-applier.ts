/**
 * Applies events to job state with the shared pure reducer and commits them
 * to the store.
 *
 * - Cache: each job's committed state is kept here between events. The active
 *   consumer is the only writer; should anyone else write (two consumers
 *   overlapping in a failover), the store's compare-and-set on the version
 *   refuses the commit, and the entry is dropped, reloaded and the events
 *   applied again. Idle jobs are kept in an LRU bounded by jobs and by event
 *   ids + product names; terminal jobs are dropped as soon as they are idle.
 * - Group commit: a job's events are applied in delivery order, one commit at
 *   a time. Events that arrive while its commit is in flight wait; then all of
 *   them are applied in memory, in order, and committed in one script call.
 *   Each resolves once the commit that holds it returned. Different jobs
 *   commit concurrently (the Redis connection pipelines them).
 */
import { applyEvent, isTerminal, type DropReason, type JobState, type TrainingEvent } from '@training-live/events'
import type { JobStore, LoadedJob } from './job-store.ts'

export type ApplyOutcome = { outcome: 'applied', id: string } | { outcome: DropReason }

export interface ApplierOptions {
  /** Most idle jobs whose state stays cached. */
  cacheMaxJobs: number
  /** Most event ids plus product names over the idle jobs cached (each costs about 100 bytes). */
  cacheMaxMembers: number
  /** Most events of one job in one commit. */
  maxBatch: number
}

export const DEFAULT_APPLIER_OPTIONS: ApplierOptions = { cacheMaxJobs: 10_000, cacheMaxMembers: 1_000_000, maxBatch: 500 }

const MAX_CONFLICTS = 10

export class ApplyConflictError extends Error {
  readonly code = 'TRAINING_APPLY_CONFLICT'
}

/** A job's committed state. */
interface CachedJob {
  /** With `event_ids` left empty: the ids are in `ids`, where a lookup costs O(1). */
  state: JobState
  ids: Set<string>
  version: string
  /** Entries older than the applier's generation are not trusted (see invalidate()). */
  generation: number
}

interface Pending {
  event: TrainingEvent
  resolve: (outcome: ApplyOutcome) => void
  reject: (err: unknown) => void
}

/** A job with events queued or being committed. */
interface ActiveJob {
  tenantId: string
  jobId: string
  queue: Pending[]
  cached: CachedJob | null
}

/** Idle jobs' states, least recently used first. */
class JobCache {
  readonly #entries = new Map<string, CachedJob>()
  readonly #maxJobs: number
  readonly #maxMembers: number
  #members = 0

  constructor (maxJobs: number, maxMembers: number) {
    this.#maxJobs = maxJobs
    this.#maxMembers = maxMembers
  }

  get size (): number {
    return this.#entries.size
  }

  take (key: string): CachedJob | null {
    const entry = this.#entries.get(key)
    if (entry === undefined) return null
    this.#entries.delete(key)
    this.#members -= weight(entry)
    return entry
  }

  put (key: string, entry: CachedJob): void {
    this.#entries.set(key, entry)
    this.#members += weight(entry)
    for (const [oldest, evicted] of this.#entries) {
      if (this.#entries.size <= this.#maxJobs && this.#members <= this.#maxMembers) break
      this.#entries.delete(oldest)
      this.#members -= weight(evicted)
    }
  }

  clear (): void {
    this.#entries.clear()
    this.#members = 0
  }
}

function weight (entry: CachedJob): number {
  return 1 + entry.ids.size + entry.state.products.length
}

/** What `after` holds beyond `before`; both sorted, `before` contained in `after`. */
function addedMembers (before: readonly string[], after: readonly string[]): string[] {
  if (after.length === before.length) return []
  const added: string[] = []
  let i = 0
  for (const value of after) {
    if (before[i] === value) i++
    else added.push(value)
  }
  return added
}

interface ReducedBatch {
  state: JobState
  /** Per event: its outcome, or null when applied (its id comes with the commit). */
  outcomes: Array<ApplyOutcome | null>
  messages: string[]
  newEventIds: string[]
}

/**
 * The pure reducer over a batch. It is handed the state with `event_ids` narrowed to what it
 * looks up, the event's own id if that was seen: its duplicate check gives the same answer as
 * on the whole sorted list, without copying a list that grows with the job on every event.
 */
function reduceBatch (cached: CachedJob, events: TrainingEvent[]): ReducedBatch {
  const out: ReducedBatch = { state: cached.state, outcomes: [], messages: [], newEventIds: [] }
  const fresh = new Set<string>()
  for (const event of events) {
    const id = event.event_id
    const seen = cached.ids.has(id) || fresh.has(id)
    const result = applyEvent({ ...out.state, event_ids: seen ? [id] : [] }, event)
    if (result.message === null) {
      out.outcomes.push({ outcome: result.dropped })
      continue
    }
    out.state = result.state
    fresh.add(id)
    out.newEventIds.push(id)
    out.messages.push(JSON.stringify(result.message))
    out.outcomes.push(null)
  }
  return out
}

export class EventApplier {
  readonly #store: JobStore
  readonly #options: ApplierOptions
  readonly #active = new Map<string, ActiveJob>()
  readonly #cache: JobCache
  #generation = 0

  constructor (store: JobStore, options: Partial<ApplierOptions> = {}) {
    this.#store = store
    this.#options = { ...DEFAULT_APPLIER_OPTIONS, ...options }
    this.#cache = new JobCache(this.#options.cacheMaxJobs, this.#options.cacheMaxMembers)
  }

  /** Resolves once the event is durably applied (or known to be a duplicate); rejects if Redis fails. */
  apply (event: TrainingEvent): Promise<ApplyOutcome> {
    const key = `${event.tenant_id}/${event.job_id}`
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const pending = { event, resolve, reject }
      const job = this.#active.get(key)
      if (job !== undefined) {
        job.queue.push(pending)
        return
      }
      const started: ActiveJob = { tenantId: event.tenant_id, jobId: event.job_id, queue: [pending], cached: this.#cache.take(key) }
      this.#active.set(key, started)
      void this.#run(key, started)
    })
  }

  /** Jobs with an event being applied now. */
  get busyJobs (): number {
    return this.#active.size
  }

  /** Idle jobs whose state is cached. */
  get cachedJobs (): number {
    return this.#cache.size
  }

  /**
   * Forgets every cached state, so each job is loaded again before its next event: for when the
   * store may have changed behind the applier's back (Redis reconnected, perhaps restarted empty).
   */
  invalidate (): void {
    this.#generation++
    this.#cache.clear()
  }

  async #run (key: string, job: ActiveJob): Promise<void> {
    while (job.queue.length > 0) {
      const batch = job.queue.splice(0, this.#options.maxBatch)
      try {
        const outcomes = await this.#applyBatch(job, batch.map(p => p.event))
        batch.forEach((p, i) => p.resolve(outcomes[i] as ApplyOutcome))
      } catch (err) {
        // Whether the commit was written is unknown: load the job again next time.
        job.cached = null
        for (const p of batch) p.reject(err)
      }
    }
    this.#active.delete(key)
    const cached = job.cached
    if (cached !== null && cached.generation === this.#generation && !isTerminal(cached.state.status)) this.#cache.put(key, cached)
  }

  async #applyBatch (job: ActiveJob, events: TrainingEvent[]): Promise<ApplyOutcome[]> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      if (job.cached === null || job.cached.generation !== this.#generation) {
        job.cached = this.#cached(await this.#store.load(job.tenantId, job.jobId))
      }
      const cached = job.cached
      const reduced = reduceBatch(cached, events)
      // Only drops: decided on committed state (ids and a terminal status are never taken back), nothing to write.
      if (reduced.messages.length === 0) return reduced.outcomes as ApplyOutcome[]
      const committed = await this.#store.commit(job.tenantId, job.jobId, cached.version, {
        state: reduced.state,
        messages: reduced.messages,
        newEventIds: reduced.newEventIds,
        newProducts: addedMembers(cached.state.products, reduced.state.products)
      })
      if (!committed.ok) {
        // Written by someone else meanwhile: load it again and apply the events to what is there.
        job.cached = null
        continue
      }
      for (const id of reduced.newEventIds) cached.ids.add(id)
      cached.state = { ...reduced.state, event_ids: [] }
      cached.version = committed.ids.at(-1) as string
      let next = 0
      return reduced.outcomes.map(o => o ?? { outcome: 'applied', id: committed.ids[next++] as string })
    }
    throw new ApplyConflictError(`job ${job.tenantId}/${job.jobId} changed concurrently ${MAX_CONFLICTS} times`)
  }

  #cached (loaded: LoadedJob): CachedJob {
    return {
      state: { ...loaded.state, event_ids: [] },
      ids: new Set(loaded.state.event_ids),
      version: loaded.version,
      generation: this.#generation
    }
  }
}
