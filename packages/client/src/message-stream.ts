/**
 * One `for await` loop over a watch's messages: it buffers what arrives
 * between two reads, ends when the watch ends, and throws when it gave up.
 */
export class MessageStream<T> implements AsyncIterableIterator<T> {
  readonly #buffer: T[] = []
  readonly #onReturn: (stream: MessageStream<T>) => void
  #waiting: { resolve: (result: IteratorResult<T>) => void, reject: (err: unknown) => void } | null = null
  #ended = false
  #error: unknown = undefined

  /** `onReturn`: called once the loop is left early (break, return, throw), to stop feeding it. */
  constructor (onReturn: (stream: MessageStream<T>) => void) {
    this.#onReturn = onReturn
  }

  push (value: T): void {
    if (this.#ended) return
    const waiting = this.#waiting
    this.#waiting = null
    if (waiting === null) this.#buffer.push(value)
    else waiting.resolve({ value, done: false })
  }

  /** No more values: the loop ends after the buffered ones, or throws `error` there when given. */
  end (error?: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#error = error
    const waiting = this.#waiting
    this.#waiting = null
    if (waiting === null) return
    if (error === undefined) waiting.resolve({ value: undefined, done: true })
    else waiting.reject(error)
  }

  async next (): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) return { value: this.#buffer.shift() as T, done: false }
    if (this.#ended) {
      const error = this.#error
      // Thrown once; a loop that asks again just ends.
      this.#error = undefined
      if (error !== undefined) throw error
      return { value: undefined, done: true }
    }
    return await new Promise((resolve, reject) => { this.#waiting = { resolve, reject } })
  }

  async return (): Promise<IteratorResult<T>> {
    this.#buffer.length = 0
    this.end()
    this.#onReturn(this)
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): this {
    return this
  }
}
