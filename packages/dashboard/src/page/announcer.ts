/**
 * Polite announcements for screen readers, through one `role="status"`
 * region: connection trouble and its end, jobs that end, what the user did;
 * never each progress tick. Each message is added as a node of its own, so
 * messages close together are all read, each once (the region is marked
 * aria-atomic="false", against role="status"'s default, so only what is
 * added is read); old ones are removed after a while.
 */
const KEEP_MS = 10_000

export class Announcer {
  readonly #region: HTMLElement

  constructor (region: HTMLElement) {
    this.#region = region
  }

  announce (text: string): void {
    const line = document.createElement('p')
    line.textContent = text
    this.#region.append(line)
    setTimeout(() => line.remove(), KEEP_MS)
  }
}
