import type { WebSocket } from 'ws'

/** Slices of the interval: each socket belongs to one, and is pinged when its slice comes round. */
const SLICES = 20

/**
 * A ping/pong heartbeat for all of a process's sockets, on one timer. Every
 * interval each socket that has not answered its previous ping is
 * terminated, and the others are pinged. The sockets are spread over
 * slices of the interval rather than pinged all at once: ten thousand pings
 * (and pongs) in one tick would stall every delivery behind them.
 */
export class Heartbeat {
  readonly #slices: Array<Map<WebSocket, boolean>> = Array.from({ length: SLICES }, () => new Map())
  readonly #timer: NodeJS.Timeout
  readonly #onDead: (socket: WebSocket) => void
  #next = 0
  #added = 0

  constructor (intervalMs: number, onDead: (socket: WebSocket) => void = () => {}) {
    this.#onDead = onDead
    this.#timer = setInterval(() => this.#beat(), intervalMs / SLICES)
    this.#timer.unref()
  }

  add (socket: WebSocket): void {
    // Round-robin, so the slices stay even as sockets come and go.
    const slice = this.#slices[this.#added++ % SLICES] as Map<WebSocket, boolean>
    slice.set(socket, true)
    socket.on('pong', () => { if (slice.has(socket)) slice.set(socket, true) })
    socket.once('close', () => slice.delete(socket))
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  #beat (): void {
    const slice = this.#slices[this.#next] as Map<WebSocket, boolean>
    this.#next = (this.#next + 1) % SLICES
    for (const [socket, alive] of slice) {
      if (!alive) {
        slice.delete(socket)
        this.#onDead(socket)
        socket.terminate()
        continue
      }
      slice.set(socket, false)
      socket.ping()
    }
  }
}
