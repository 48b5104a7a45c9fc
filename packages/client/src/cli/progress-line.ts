/** The watcher's one line: bar, percent, products, status, connection, then the step (what a narrow terminal cuts). */
import type { JobView } from '@training-live/events'
import type { ConnectionState } from '../job-watch.ts'

const BAR_WIDTH = 20

export function progressLine (view: JobView, connection: ConnectionState): string {
  const filled = Math.round(view.progress / 100 * BAR_WIDTH)
  const bar = '#'.repeat(filled).padEnd(BAR_WIDTH, '.')
  const products = `${view.products_completed}/${view.total_products ?? '?'} products`
  const step = view.current_step ?? ''
  return `[${bar}] ${String(view.progress).padStart(3)}%  ${products}  ${view.status}  ${connection}${step === '' ? '' : `  ${step}`}`.trimEnd()
}

/** Where the watcher writes: a terminal (redrawn in place) or a pipe or file (a line per change). */
export interface Output {
  isTTY?: boolean
  columns?: number
  write: (text: string) => unknown
}

/** Draws the line: in place on a terminal, as a new line otherwise; an unchanged line is not drawn again. */
export class ProgressScreen {
  readonly #out: Output
  #last: string | null = null

  constructor (out: Output) {
    this.#out = out
  }

  draw (line: string): void {
    if (line === this.#last) return
    this.#last = line
    if (this.#out.isTTY !== true) {
      this.#out.write(`${line}\n`)
      return
    }
    // A line that wraps could not be redrawn in place with \r: cut it to the terminal's width.
    const width = (this.#out.columns ?? 80) - 1
    const shown = line.length > width ? line.slice(0, Math.max(0, width - 1)) + '…' : line
    this.#out.write(`\r\x1b[2K${shown}`)
  }

  /** Leaves the line drawn in place, so that what follows starts on a line of its own. */
  finish (): void {
    if (this.#out.isTTY === true && this.#last !== null) this.#out.write('\n')
    this.#last = null
  }
}
