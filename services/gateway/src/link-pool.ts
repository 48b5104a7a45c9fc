/**
 * One link per training replica, and the choice of replica for a job:
 * rendezvous (highest random weight) hashing of the job over the replicas
 * whose link is open, so every session of one job from this gateway lands on
 * one replica (the replica sends each event once to this gateway) and only
 * the jobs of a lost replica move.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { SessionMeta } from '@training-live/service-kit'
import { Link, type LinkOptions, type OpenResult } from './link.ts'

/** FNV-1a, 32 bits: spreads short keys well enough for a handful of replicas, and costs nothing. */
export function hash32 (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  // A final avalanche, so keys differing in their last character still spread over the replicas.
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  return h >>> 0
}

/** Replicas in the order a key tries them: highest weight first. */
export function rendezvousOrder<T extends { base: URL }> (key: string, replicas: readonly T[]): T[] {
  return replicas
    .map(replica => ({ replica, weight: hash32(`${replica.base.href}\n${key}`) }))
    .sort((a, b) => b.weight - a.weight)
    .map(entry => entry.replica)
}

/** Resolves a host name to every address it has (a headless Service, Docker's DNS: one per replica). */
export type Resolver = (hostname: string) => Promise<string[]>

const resolveAll: Resolver = async hostname => (await lookup(hostname, { all: true })).map(a => a.address)

/**
 * The links, one per replica. Each TRAINING_URLS entry that is a name is resolved to all of its
 * addresses, again every `refreshMs`, so replicas behind one name (scaled with Compose, a headless
 * Service in Kubernetes) each get their own link, and new ones are found without a restart.
 */
export class LinkPool {
  readonly #bases: URL[]
  readonly #options: LinkOptions
  readonly #resolve: Resolver
  readonly #refreshMs: number
  readonly #links = new Map<string, Link>()
  #timer: NodeJS.Timeout | null = null
  #stopped = false

  constructor (bases: URL[], options: LinkOptions, refreshMs = 10_000, resolve: Resolver = resolveAll) {
    this.#bases = bases
    this.#options = options
    this.#refreshMs = refreshMs
    this.#resolve = resolve
  }

  get links (): Link[] {
    return [...this.#links.values()]
  }

  async start (): Promise<void> {
    await this.refresh()
    this.#timer = setInterval(() => { void this.refresh() }, this.#refreshMs)
    this.#timer.unref()
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    for (const link of this.#links.values()) link.stop()
  }

  /** Opens a link to each replica found now; a replica no longer found is let go. */
  async refresh (): Promise<void> {
    const wanted = new Map<string, URL>()
    await Promise.all(this.#bases.map(async base => {
      for (const target of await this.#targets(base)) wanted.set(target.href, target)
    }))
    if (this.#stopped) return
    for (const [href, target] of wanted) {
      if (this.#links.has(href)) continue
      const link = new Link(target, this.#options)
      this.#links.set(href, link)
      link.connect()
    }
    for (const [href, link] of this.#links) {
      // A name that does not resolve for a moment keeps its links: only a definite answer removes one.
      if (!wanted.has(href) && wanted.size > 0) {
        link.stop()
        this.#links.delete(href)
      }
    }
  }

  async #targets (base: URL): Promise<URL[]> {
    const host = base.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) !== 0) return [base]
    let addresses: string[]
    try { addresses = await this.#resolve(host) } catch { return [] }
    // localhost and the like: one server, whichever loopback address it listens on.
    if (addresses.length === 0 || addresses.every(a => a.startsWith('127.') || a === '::1')) return [base]
    return addresses.map(address => {
      const target = new URL(base)
      target.hostname = isIP(address) === 6 ? `[${address}]` : address
      return target
    })
  }

  /**
   * Opens a session on the job's replica, or the next one in its order when a replica is down or
   * refuses with 5xx (not ready); a 4xx is the client's own and is returned as is.
   */
  async openSession (meta: SessionMeta, onFailure: (base: string, reason: string) => void): Promise<{ result: OpenResult, link: Link | null }> {
    let reason = 'no link open'
    for (const link of rendezvousOrder(`${meta.tenant_id}/${meta.job_id}`, this.links)) {
      if (!link.open) continue
      const result = await link.openSession(meta)
      if (result.kind === 'accepted') return { result, link }
      if (result.kind === 'refused' && result.status < 500) return { result, link: null }
      reason = result.kind === 'refused' ? `status ${result.status}` : result.reason
      onFailure(link.base.origin, reason)
    }
    return { result: { kind: 'failed', reason }, link: null }
  }
}
