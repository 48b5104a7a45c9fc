/** The job's live URL, from a base URL or a full one, with `last_id` when resuming. */
import { livePath } from '@training-live/events'
import { WatchError } from './watch-error.ts'

export interface UrlOptions {
  baseUrl?: string | undefined
  url?: string | undefined
  tenantId: string
  jobId: string
}

const SCHEMES: Record<string, string> = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' }

/**
 * Parses a URL as given, or relative to the page in a browser (so `baseUrl: '/'`
 * means the page's own host), with http(s) turned into ws(s).
 */
function parse (text: string, what: string): URL {
  const page = (globalThis as { location?: { href?: string } }).location?.href
  let url: URL
  try {
    url = new URL(text, page)
  } catch {
    throw new WatchError('INVALID_OPTIONS', `${what} is not a URL: ${JSON.stringify(text)}`)
  }
  const scheme = SCHEMES[url.protocol]
  if (scheme === undefined) throw new WatchError('INVALID_OPTIONS', `${what} must be ws, wss, http or https, not ${url.protocol}`)
  url.protocol = scheme
  return url
}

/** The live URL of the job, without `last_id`. */
export function resolveLiveUrl (options: UrlOptions): string {
  if (options.url !== undefined) return parse(options.url, 'url').href
  if (options.baseUrl === undefined) throw new WatchError('INVALID_OPTIONS', 'give baseUrl (the gateway) or url (the live URL)')
  const url = parse(options.baseUrl, 'baseUrl')
  // A base with a path prefix (behind a proxy) keeps it.
  url.pathname = url.pathname.replace(/\/+$/, '') + livePath(options.tenantId, options.jobId)
  return url.href
}

/** `url` resuming after `lastId`, when there is one. */
export function withLastId (url: string, lastId: string | undefined): string {
  if (lastId === undefined) return url
  const u = new URL(url)
  u.searchParams.set('last_id', lastId)
  return u.href
}
