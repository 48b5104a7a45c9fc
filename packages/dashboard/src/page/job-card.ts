/**
 * One job's card: id, progress bar, step, products, status (a word and an
 * icon, not only a colour), the error of a failed job, elapsed time and the
 * connection. Built once, then updated in place so focus and screen-reader
 * position survive updates.
 */
import type { ConnectionState, JobView, RetryInfo } from '@training-live/client'
import {
  STATUS_TEXT, connectionShown, connectionText, formatElapsed, isFinished, isoDuration, productsText,
  type ConnectionShown
} from './format.ts'

let nextId = 0

function el<K extends keyof HTMLElementTagNameMap> (tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className !== undefined) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function fact (label: string, value: HTMLElement, className = 'fact'): HTMLDivElement {
  const row = el('div', className)
  row.append(el('dt', undefined, label), value)
  return row
}

function parseTime (iso: string | null | undefined): number | null {
  if (iso === undefined || iso === null) return null
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : t
}

export class JobCard {
  readonly element: HTMLLIElement
  readonly jobId: string
  readonly removeButton: HTMLButtonElement
  #view: JobView | null = null
  #connection: ConnectionState = 'connecting'
  /** When the client tries again, after an attempt that failed; null while connected. */
  #retryAt: number | null = null
  /** The last attempt did not get through at all (rather than a connection that was lost). */
  #unreachable = false
  #knownStart: number | null = null
  #knownEnd: number | null = null
  /** When this page first saw the job under way; null if it was already over then. */
  #startedSeen: number | null = null
  #endedSeen: number | null = null
  readonly #status: HTMLParagraphElement
  readonly #statusIcon: HTMLSpanElement
  readonly #statusText: HTMLSpanElement
  readonly #bar: HTMLDivElement
  readonly #fill: HTMLDivElement
  readonly #percent: HTMLElement
  readonly #step: HTMLElement
  readonly #products: HTMLElement
  readonly #elapsed: HTMLTimeElement
  readonly #connectionText: HTMLElement
  readonly #error: HTMLParagraphElement
  readonly #errorText: HTMLSpanElement
  readonly #notice: HTMLParagraphElement

  constructor (jobId: string) {
    this.jobId = jobId
    const titleId = `job-${++nextId}-title`
    this.element = el('li', 'job')
    this.element.dataset.jobId = jobId
    const article = el('article')
    article.setAttribute('aria-labelledby', titleId)

    const head = el('header', 'job-head')
    const title = el('h3', 'job-id', jobId)
    title.id = titleId
    this.#status = el('p', 'status')
    this.#statusIcon = el('span', 'status-icon')
    this.#statusIcon.setAttribute('aria-hidden', 'true')
    this.#statusText = el('span', 'status-text')
    this.#status.append(this.#statusIcon, this.#statusText)
    head.append(title, this.#status)

    this.#bar = el('div', 'bar')
    this.#bar.setAttribute('role', 'progressbar')
    this.#bar.setAttribute('aria-label', `Progress of ${jobId}`)
    this.#bar.setAttribute('aria-valuemin', '0')
    this.#bar.setAttribute('aria-valuemax', '100')
    this.#fill = el('div', 'bar-fill')
    this.#bar.append(this.#fill)

    this.#percent = el('dd', 'percent')
    this.#step = el('dd', 'step')
    this.#products = el('dd', 'products')
    this.#elapsed = el('time', 'elapsed')
    const elapsed = el('dd')
    elapsed.append(this.#elapsed)
    this.#connectionText = el('dd', 'connection-text')
    const facts = el('dl', 'facts')
    facts.append(
      fact('Step', this.#step),
      fact('Progress', this.#percent),
      fact('Products', this.#products),
      // Full rows: a half row leaves no room for "Offline · retrying in 4 s" on a phone.
      fact('Elapsed', elapsed, 'fact fact-wide'),
      fact('Connection', this.#connectionText, 'fact fact-wide')
    )

    this.#error = el('p', 'job-error')
    this.#error.hidden = true
    this.#errorText = el('span')
    this.#error.append(el('strong', undefined, 'Error: '), this.#errorText)
    this.#notice = el('p', 'job-notice')
    this.#notice.hidden = true

    this.removeButton = el('button', 'remove', 'Remove')
    this.removeButton.type = 'button'
    this.removeButton.setAttribute('aria-label', `Stop watching ${jobId}`)

    article.append(head, this.#bar, facts, this.#error, this.#notice, this.removeButton)
    this.element.append(article)
    this.#render()
  }

  get status (): JobView['status'] {
    return this.#view?.status ?? 'pending'
  }

  get connectionShown (): ConnectionShown {
    const shown = connectionShown(this.#connection, this.status)
    return this.#unreachable && (shown === 'connecting' || shown === 'reconnecting') ? 'unreachable' : shown
  }

  /** Milliseconds until the client's next attempt, while it is in trouble; null otherwise. */
  retryIn (now = Date.now()): number | null {
    const shown = this.connectionShown
    if (this.#retryAt === null || !(shown === 'reconnecting' || shown === 'unreachable')) return null
    return this.#retryAt - now
  }

  update (view: JobView): void {
    const now = Date.now()
    if (view.status === 'running') this.#startedSeen ??= now
    if (isFinished(view.status)) this.#endedSeen ??= now
    this.#view = view
    // A job that answers again is reachable: an earlier notice no longer holds.
    this.#notice.hidden = true
    this.#render()
  }

  setConnection (connection: ConnectionState): void {
    this.#connection = connection
    if (connection === 'open' || connection === 'closed') {
      this.#retryAt = null
      this.#unreachable = false
    }
    if (connection === 'open') this.#notice.hidden = true
    this.#renderConnection()
  }

  /** The client's next attempt: when, and whether the last one got through at all. */
  setRetry (info: RetryInfo, now = Date.now()): void {
    this.#retryAt = now + info.delayMs
    this.#unreachable = info.reason.kind !== 'close'
    this.#renderConnection(now)
  }

  /** Why the watch gave up (the client's WatchError), shown until the job answers again. */
  showNotice (text: string): void {
    this.#notice.textContent = text
    this.#notice.hidden = false
  }

  /** When the job started and ended, from the demo's job list (which names jobs added by hand too). */
  learnTimes (startedAt: string, finishedAt?: string): void {
    this.#knownStart ??= parseTime(startedAt)
    this.#knownEnd ??= parseTime(finishedAt)
    this.tick()
  }

  /** Redraws the elapsed time and the countdown to a retry; the page calls it every second. */
  tick (now = Date.now()): void {
    this.#renderConnection(now)
    const view = this.#view
    // A snapshot carries no times: the client's come from live events; then the demo list's;
    // then the moments this page saw the job under way and over (unknown for a job already over when first seen).
    const start = parseTime(view?.started_at) ?? this.#knownStart ?? this.#startedSeen
    const end = view !== null && isFinished(view.status)
      ? parseTime(view.updated_at) ?? this.#knownEnd ?? (this.#startedSeen === null ? null : this.#endedSeen)
      : now
    if (view === null || view.status === 'pending' || start === null || end === null) {
      this.#elapsed.textContent = '–'
      this.#elapsed.removeAttribute('datetime')
      return
    }
    const ms = Math.max(0, end - start)
    this.#elapsed.textContent = formatElapsed(ms)
    this.#elapsed.dateTime = isoDuration(ms)
  }

  #render (): void {
    const view = this.#view
    const status = this.status
    const progress = Math.max(0, Math.min(100, Math.round(view?.progress ?? 0)))
    const step = view?.current_step ?? null
    this.element.dataset.status = status
    this.#status.dataset.status = status
    this.#statusIcon.textContent = STATUS_TEXT[status].icon
    this.#statusText.textContent = STATUS_TEXT[status].label
    this.#bar.setAttribute('aria-valuenow', String(progress))
    this.#bar.setAttribute('aria-valuetext', `${progress}%, ${STATUS_TEXT[status].label.toLowerCase()}${step === null ? '' : `, ${step}`}`)
    this.#fill.style.width = `${progress}%`
    this.#percent.textContent = `${progress}%`
    this.#step.textContent = step ?? '–'
    this.#products.textContent = productsText(view?.products_completed ?? 0, view?.total_products ?? null)
    const error = status === 'failed' ? (view?.error ?? 'no reason given') : null
    this.#error.hidden = error === null
    this.#errorText.textContent = error ?? ''
    this.#renderConnection()
    this.tick()
  }

  #renderConnection (now = Date.now()): void {
    const shown = this.connectionShown
    const text = connectionText(shown, this.retryIn(now))
    this.#connectionText.dataset.connection = shown
    // Unchanged text is not written again: a screen reader or a selection on it is left alone.
    if (this.#connectionText.textContent !== text) this.#connectionText.textContent = text
  }
}
