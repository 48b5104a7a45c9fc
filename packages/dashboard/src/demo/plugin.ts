/**
 * The Vite dev-server side of the demo: it mints short-lived tokens for the
 * page (`GET /demo/token?tenant=`) and lists the jobs the simulator started
 * (`GET /demo/jobs[?tenant=]`), and tells the page, through a meta tag, that it
 * runs in demo mode and where the gateway is.
 *
 * The token route hands a token for any tenant to whoever asks: it exists for
 * a dev server bound to the loopback interface, and is never part of a build
 * (`apply: 'serve'`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SignJWT } from 'jose'
import type { Plugin } from 'vite'
import { ID_PATTERN } from '@training-live/events'
import { DEV_SECRET } from '@training-live/service-kit'
import { DEMO_META_NAME } from '../page/config.ts'
import type { DemoJobList } from './job-list.ts'

export interface DemoPluginOptions {
  jobs: DemoJobList
  /** The gateway's WebSocket base URL the page connects to, e.g. `ws://127.0.0.1:8000`. */
  gateway: string
  /** The HS256 secret the services verify with; JWT_SECRET, or else the development secret. */
  secret?: string
  /** The tenant the page shows when its URL names none. */
  tenantId?: string
  tokenTtlSeconds?: number
}

/** What the page reads from the meta tag. */
export interface DemoPageSettings {
  gateway: string
  tenantId: string
}

const idPattern = new RegExp(ID_PATTERN)

function send (res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('content-type', 'application/json')
  // Tokens and the job list change all the time: no cache may keep them.
  res.setHeader('cache-control', 'no-store')
  res.end(JSON.stringify(body))
}

export async function mintDemoToken (tenantId: string, secret: string, ttlSeconds: number): Promise<{ token: string, expiresAt: number }> {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds
  const token = await new SignJWT({ tenant_id: tenantId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('dashboard-demo')
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret))
  return { token, expiresAt }
}

export function demoPlugin (options: DemoPluginOptions): Plugin {
  // Empty counts as unset, as in the services' configuration.
  const secret = options.secret ?? (process.env.JWT_SECRET || DEV_SECRET)
  const ttl = options.tokenTtlSeconds ?? 300
  const settings: DemoPageSettings = { gateway: options.gateway, tenantId: options.tenantId ?? 'tenant_demo' }

  async function handle (req: IncomingMessage, res: ServerResponse, next: () => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith('/demo/')) return next()
    if (req.method !== 'GET') return send(res, 405, { error: 'only GET' })
    const tenant = url.searchParams.get('tenant') ?? undefined
    if (tenant !== undefined && !idPattern.test(tenant)) return send(res, 400, { error: `tenant must match ${ID_PATTERN}` })
    if (url.pathname === '/demo/jobs') return send(res, 200, { jobs: options.jobs.list(tenant) })
    if (url.pathname === '/demo/token') {
      if (tenant === undefined) return send(res, 400, { error: 'tenant is required' })
      const { token, expiresAt } = await mintDemoToken(tenant, secret, ttl)
      return send(res, 200, { token, expires_at: expiresAt })
    }
    send(res, 404, { error: 'not found' })
  }

  return {
    name: 'training-live-demo',
    apply: 'serve',
    configureServer (server) {
      server.middlewares.use((req, res, next) => {
        handle(req, res, next).catch((err: unknown) => send(res, 500, { error: (err as Error).message }))
      })
    },
    transformIndexHtml () {
      return [{ tag: 'meta', attrs: { name: DEMO_META_NAME, content: JSON.stringify(settings) }, injectTo: 'head' }]
    }
  }
}
