import type { WebSocket } from 'ws'

/**
 * One timer for all of a process's sockets: every interval, a socket that
 * has not answered the previous ping is terminated, the others are pinged.
 */
export class Heartbeat {
  readonly #alive = new Map<WebSocket, boolean>()
  readonly #timer: NodeJS.Timeout
  readonly #onDead: (socket: WebSocket) => void

  constructor (intervalMs: number, onDead: (socket: WebSocket) => void = () => {}) {
    this.#onDead = onDead
    this.#timer = setInterval(() => this.#beat(), intervalMs)
    this.#timer.unref()
  }

  add (socket: WebSocket): void {
    this.#alive.set(socket, true)
    socket.on('pong', () => { if (this.#alive.has(socket)) this.#alive.set(socket, true) })
    socket.once('close', () => this.#alive.delete(socket))
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  #beat (): void {
    for (const [socket, alive] of this.#alive) {
      if (!alive) {
        this.#alive.delete(socket)
        this.#onDead(socket)
        socket.terminate()
        continue
      }
      this.#alive.set(socket, false)
      socket.ping()
    }
  }
}
