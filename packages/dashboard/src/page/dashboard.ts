/**
 * The page's jobs: one client watch and one card per job, the overall
 * connection indicator, and the announcements. Jobs added by hand are kept in
 * the address (`?jobs=`), so a reload or a shared link shows them again; jobs
 * the demo adds are not, and only the newest few of them stay on screen.
 */
import { watchJob, type JobWatch } from '@training-live/client'
import { Announcer } from './announcer.ts'
import { OVERALL_TEXT, overallConnection, overallText, worthAnnouncing, type OverallConnection } from './connection.ts'
import { STATUS_TEXT, isFinished } from './format.ts'
import { JobCard } from './job-card.ts'
import { withJobs } from './config.ts'
import type { TokenSource } from './tokens.ts'

export interface DashboardOptions {
  tenantId: string
  gateway: string
  getToken: TokenSource
  list: HTMLUListElement
  empty: HTMLElement
  count: HTMLElement
  indicator: HTMLElement
  indicatorText: HTMLElement
  announcer: Announcer
  /** Focus goes here when the last card is removed. */
  fallbackFocus: HTMLElement
  /** How many jobs added by the demo stay on screen; older finished ones make room. */
  maxAutoJobs?: number
}

/** How many jobs the demo's list keeps on screen by default. */
export const MAX_AUTO_JOBS = 8

interface Entry {
  card: JobCard
  watch: JobWatch
  /** Added by the demo's job list rather than by the user. */
  auto: boolean
}

export class Dashboard {
  readonly #options: DashboardOptions
  readonly #jobs = new Map<string, Entry>()
  /** Jobs the user removed: the demo's list does not bring them back. */
  readonly #dismissed = new Set<string>()
  #overall: OverallConnection | null = null

  constructor (options: DashboardOptions) {
    this.#options = options
    setInterval(() => {
      for (const { card } of this.#jobs.values()) card.tick()
      this.#refreshOverall()
    }, 1000)
    window.addEventListener('online', () => this.#refreshOverall())
    window.addEventListener('offline', () => this.#refreshOverall())
    this.#refreshOverall()
  }

  /** Starts watching a job; false if it is already on the page (or, for one from the demo's list, `auto`, was removed by the user). */
  add (jobId: string, auto = false): boolean {
    if (this.#jobs.has(jobId) || (auto && this.#dismissed.has(jobId))) return false
    this.#dismissed.delete(jobId)
    const { tenantId, gateway, getToken, list } = this.#options
    const card = new JobCard(jobId)
    const watch = watchJob({ baseUrl: gateway, tenantId, jobId, getToken })
    const entry: Entry = { card, watch, auto }
    this.#jobs.set(jobId, entry)
    let seenUnfinished = false
    watch.on('state', view => {
      if (!isFinished(view.status)) seenUnfinished = true
      card.update(view)
      this.#refreshOverall()
    })
    watch.on('end', view => {
      card.update(view)
      // A job already over when the page opened is not news.
      if (seenUnfinished) {
        this.#options.announcer.announce(view.status === 'failed'
          ? `Job ${jobId} failed: ${view.error ?? 'no reason given'}.`
          : `Job ${jobId} ${STATUS_TEXT[view.status].label.toLowerCase()}.`)
      }
      this.#refreshOverall()
    })
    watch.on('connection', connection => {
      card.setConnection(connection)
      this.#refreshOverall()
    })
    watch.on('retry', info => {
      card.setRetry(info)
      this.#refreshOverall()
    })
    watch.on('error', err => card.showNotice(err.message))
    card.removeButton.addEventListener('click', () => this.remove(jobId, true))
    // Newest first: the job just added is where the eye is.
    list.prepend(card.element)
    if (auto) this.#trimAutoJobs()
    this.#changed()
    return true
  }

  /** Tells a job's card when the job started and ended, if the job is on the page. */
  learnTimes (jobId: string, startedAt: string, finishedAt?: string): void {
    this.#jobs.get(jobId)?.card.learnTimes(startedAt, finishedAt)
  }

  remove (jobId: string, byUser = false): void {
    const entry = this.#jobs.get(jobId)
    if (entry === undefined) return
    const next = (entry.card.element.nextElementSibling ?? entry.card.element.previousElementSibling) as HTMLElement | null
    entry.watch.close()
    entry.card.element.remove()
    this.#jobs.delete(jobId)
    if (byUser) {
      this.#dismissed.add(jobId)
      // Keyboard users land on the neighbouring card's button, not at the top of the page.
      const button = next?.querySelector<HTMLButtonElement>('button.remove') ?? null
      ;(button ?? this.#options.fallbackFocus).focus()
      this.#options.announcer.announce(`Stopped watching ${jobId}.`)
    }
    this.#changed()
  }

  /** The job ids added by hand, oldest first, for the address. */
  manualJobIds (): string[] {
    return [...this.#jobs.entries()].filter(([, e]) => !e.auto).map(([id]) => id)
  }

  #trimAutoJobs (): void {
    const max = this.#options.maxAutoJobs ?? MAX_AUTO_JOBS
    const auto = [...this.#jobs.entries()].filter(([, e]) => e.auto)
    let extra = auto.length - max
    // Oldest first; a job still running is never dropped.
    for (const [id, e] of auto) {
      if (extra <= 0) break
      if (isFinished(e.card.status)) { this.remove(id); extra-- }
    }
  }

  #changed (): void {
    const n = this.#jobs.size
    this.#options.empty.hidden = n > 0
    this.#options.count.textContent = n === 0 ? '' : `(${n})`
    history.replaceState(history.state, '', withJobs(location.href, this.manualJobIds()))
    this.#refreshOverall()
  }

  #refreshOverall (): void {
    const cards = [...this.#jobs.values()].map(e => e.card)
    const overall = overallConnection(cards.map(c => c.connectionShown), navigator.onLine)
    const now = Date.now()
    // The soonest retry of the jobs in the state the page shows.
    const retries = cards.filter(c => c.connectionShown === overall).flatMap(c => c.retryIn(now) ?? [])
    const text = overallText(overall, retries.length === 0 ? null : Math.min(...retries))
    if (this.#options.indicatorText.textContent !== text) this.#options.indicatorText.textContent = text
    if (overall === this.#overall) return
    const previous = this.#overall
    this.#overall = overall
    this.#options.indicator.dataset.state = overall
    // Without the countdown: announced once per change of state, not every second.
    if (previous !== null && worthAnnouncing(previous, overall)) this.#options.announcer.announce(`Connection: ${OVERALL_TEXT[overall]}`)
  }
}
