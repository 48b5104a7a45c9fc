/**
 * JWT checks for the live route, run in an `onRequest` hook so that a
 * refused client is answered with 401/403 and never upgraded.
 */
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { BEARER_SUBPROTOCOL } from '@training-live/events'
import type { AuthErrors } from './errors.ts'

export interface AuthOptions {
  secret?: string | undefined
  publicKey?: string | undefined
  algorithms?: string | undefined
  errors: AuthErrors
}

/** The verified claims of a live connection. */
export interface Principal {
  sub: string
  tenant_id: string
  /** Seconds since the epoch. */
  exp: number
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
    /** The raw token, kept only to forward it upstream; never logged. */
    liveToken?: string
  }
  interface FastifyInstance {
    authenticateLive: (request: FastifyRequest) => Promise<void>
  }
}

/** Finds the token in `Authorization: Bearer`, `?token=`, or `Sec-WebSocket-Protocol: bearer, <token>`. */
export function extractToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1] ?? ''
  }
  const query = request.query as Record<string, unknown> | undefined
  const fromQuery = query?.token
  if (typeof fromQuery === 'string') return fromQuery
  const protocols = request.headers['sec-websocket-protocol']
  if (typeof protocols === 'string') {
    const offered = protocols.split(',').map(p => p.trim())
    const i = offered.indexOf(BEARER_SUBPROTOCOL)
    if (i >= 0) return offered[i + 1] ?? ''
  }
  return undefined
}

/** Picks `bearer` when offered, so browsers that carry the token as a subprotocol accept the handshake; never echoes the token. */
export function selectProtocol (protocols: Set<string>): string | false {
  return protocols.has(BEARER_SUBPROTOCOL) ? BEARER_SUBPROTOCOL : false
}

const DEV_SECRET = 'training-live-development-secret'

async function auth (fastify: FastifyInstance, options: AuthOptions) {
  const { errors } = options
  const asymmetric = options.publicKey !== undefined
  const algorithms = (options.algorithms ?? (asymmetric ? 'RS256' : 'HS256')).split(',')
  if (!asymmetric && options.secret === undefined) {
    fastify.log.warn('JWT_SECRET is not set: using the development secret; never do this in production')
  }
  await fastify.register(fastifyJwt, {
    secret: asymmetric ? { public: options.publicKey as string } : (options.secret ?? DEV_SECRET),
    verify: { algorithms: algorithms as never, requiredClaims: ['exp', 'sub', 'tenant_id'] }
  })

  fastify.decorate('authenticateLive', async function authenticateLive (request: FastifyRequest) {
    const token = extractToken(request)
    if (token === undefined || token === '') throw new errors.TokenMissing()
    let claims: Record<string, unknown>
    try {
      claims = fastify.jwt.verify<Record<string, unknown>>(token)
    } catch (err) {
      const code = (err as { code?: string }).code
      throw code === 'FAST_JWT_EXPIRED' ? new errors.TokenExpired() : new errors.TokenInvalid()
    }
    if (typeof claims.tenant_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') {
      throw new errors.TokenInvalid()
    }
    const params = request.params as { tenant_id?: string }
    if (claims.tenant_id !== params.tenant_id) throw new errors.TenantForbidden()
    request.principal = { sub: claims.sub, tenant_id: claims.tenant_id, exp: claims.exp }
    request.liveToken = token
  })
}

export const authPlugin = fp(auth, { name: 'training-live-auth' })
export { DEV_SECRET }
