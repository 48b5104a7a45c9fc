/**
 * Opens the upstream WebSocket to a training replica before the client is
 * upgraded, round-robin, skipping replicas that do not answer. A 4xx from
 * the replica is the client's own fault and is passed back as is.
 */
import WebSocket, { type RawData } from 'ws'

export type Upstream = {
  kind: 'open'
  socket: WebSocket
  url: string
  /** Frames that arrived before the client was attached, in order. */
  early: Array<{ data: RawData, isBinary: boolean }>
}
export type UpstreamAttempt =
  | Upstream
  | { kind: 'refused', status: number, body: string, contentType: string }
  | { kind: 'failed', reason: string }

export class UpstreamPool {
  readonly #bases: URL[]
  readonly #timeoutMs: number
  #next = 0

  constructor (bases: URL[], timeoutMs: number) {
    this.#bases = bases
    this.#timeoutMs = timeoutMs
  }

  get bases (): readonly URL[] {
    return this.#bases
  }

  /** Tries each replica at most once, starting with the next in turn. */
  async open (pathAndQuery: string, headers: Record<string, string>, onFailure: (url: string, reason: string) => void): Promise<UpstreamAttempt> {
    const n = this.#bases.length
    const start = this.#next
    this.#next = (this.#next + 1) % n
    let last: UpstreamAttempt = { kind: 'failed', reason: 'no upstream' }
    for (let i = 0; i < n; i++) {
      const base = this.#bases[(start + i) % n] as URL
      last = await this.#try(base, pathAndQuery, headers)
      if (last.kind !== 'failed') return last
      onFailure(base.origin, last.reason)
    }
    return last
  }

  #try (base: URL, pathAndQuery: string, headers: Record<string, string>): Promise<UpstreamAttempt> {
    const url = new URL(pathAndQuery, base)
    url.protocol = base.protocol === 'https:' || base.protocol === 'wss:' ? 'wss:' : 'ws:'
    return new Promise(resolve => {
      // The frames come from our own training service and go to the client unchanged: the client
      // checks their UTF-8, so the gateway does not do it a second time.
      const socket = new WebSocket(url, { headers, handshakeTimeout: this.#timeoutMs, perMessageDeflate: false, skipUTF8Validation: true })
      const early: Upstream['early'] = []
      const keep = (data: RawData, isBinary: boolean) => { early.push({ data, isBinary }) }
      socket.on('message', keep)
      socket.once('open', () => {
        socket.removeAllListeners('error')
        resolve({ kind: 'open', socket, url: base.origin, early })
      })
      socket.once('error', err => resolve({ kind: 'failed', reason: err.message }))
      socket.once('unexpected-response', (req, res) => {
        const status = res.statusCode ?? 502
        if (status >= 500) {
          req.destroy()
          resolve({ kind: 'failed', reason: `status ${status}` })
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          resolve({ kind: 'refused', status, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? 'application/json') })
          req.destroy()
        })
        res.on('error', () => resolve({ kind: 'failed', reason: 'response aborted' }))
      })
    })
  }
}
