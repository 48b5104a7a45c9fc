/**
 * What the page is told by its address and, in the demo, by the dev server:
 *   ?tenant=<id>&jobs=<id>,<id>&gateway=ws://host:port#token=<JWT>
 * The hash token is for development only: a URL is easily shared, logged or
 * bookmarked, and the hash at least never reaches a server.
 */
import { ID_PATTERN } from '@training-live/events'

/** The meta tag through which the demo's dev server tells the page it runs in demo mode. */
export const DEMO_META_NAME = 'training-live-demo'

export interface PageConfig {
  tenantId: string | null
  /** Job ids to watch from the start, valid ones only, without repeats. */
  jobIds: string[]
  /** Ids in `jobs` that are not valid job ids, to tell the user. */
  rejectedJobIds: string[]
  /** The gateway's WebSocket base URL, e.g. `ws://127.0.0.1:8000`. */
  gateway: string
  /** Served by the demo's dev server: tokens come from /demo/token, jobs from /demo/jobs. */
  demo: boolean
  /** A token from the address' hash (`#token=`), development only. */
  hashToken: string | null
}

/** The demo plugin's meta tag content: `{"gateway": …, "tenantId": …}`. */
interface DemoSettings {
  gateway?: unknown
  tenantId?: unknown
}

const idPattern = new RegExp(ID_PATTERN)

export function isValidId (id: string): boolean {
  return idPattern.test(id)
}

function parseDemoSettings (meta: string | null): DemoSettings | null {
  if (meta === null) return null
  try {
    const parsed: unknown = JSON.parse(meta)
    return typeof parsed === 'object' && parsed !== null ? parsed as DemoSettings : null
  } catch {
    return null
  }
}

/** Reads the page's configuration from its address and the demo meta tag's content (null outside the demo). */
export function parseConfig (href: string, demoMeta: string | null): PageConfig {
  const url = new URL(href)
  const demo = parseDemoSettings(demoMeta)
  const tenant = url.searchParams.get('tenant')?.trim() ?? ''
  const fallbackTenant = typeof demo?.tenantId === 'string' ? demo.tenantId : null
  const requested = (url.searchParams.get('jobs') ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  const unique = [...new Set(requested)]
  const gatewayParam = url.searchParams.get('gateway')
  // Without a gateway named anywhere, the page's own host on the gateway's default port.
  const defaultGateway = `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.hostname}:8000`
  const hash = new URLSearchParams(url.hash.slice(1))
  return {
    tenantId: tenant !== '' && isValidId(tenant) ? tenant : fallbackTenant,
    jobIds: unique.filter(isValidId),
    rejectedJobIds: unique.filter(id => !isValidId(id)),
    gateway: gatewayParam !== null && /^wss?:\/\//.test(gatewayParam)
      ? gatewayParam.replace(/\/+$/, '')
      : typeof demo?.gateway === 'string' ? demo.gateway : defaultGateway,
    demo: demo !== null,
    hashToken: hash.get('token') ?? null
  }
}

/** The address with `jobs` set to these ids (or removed when there are none), so a reload keeps what was added. */
export function withJobs (href: string, jobIds: string[]): string {
  const url = new URL(href)
  if (jobIds.length === 0) url.searchParams.delete('jobs')
  else url.searchParams.set('jobs', jobIds.join(','))
  // URLSearchParams encodes the commas; the ids never need it.
  return url.toString().replace(/jobs=([^&#]*)/, (_m, v: string) => `jobs=${v.replaceAll('%2C', ',')}`)
}
