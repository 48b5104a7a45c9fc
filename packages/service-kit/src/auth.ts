/**
 * JWT checks for the live route, run in an `onRequest` hook so that a
 * refused client is answered with 401/403 and never upgraded.
 */
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { BEARER_SUBPROTOCOL, DEVELOPMENT_JWT_SECRET } from '@training-live/events'
import type { AuthErrors } from './errors.ts'

export interface AuthOptions {
  secret?: string | undefined
  publicKey?: string | undefined
  algorithms?: string | undefined
  /** A key being rotated out: tokens it signed are still accepted, after the current key refuses them. */
  previous?: { secret?: string | undefined, publicKey?: string | undefined, algorithms?: string | undefined } | undefined
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
    /** The same checks on a token that came another way (a session opened over a gateway's link). */
    verifyLiveToken: (token: string | undefined, tenantId: string | undefined) => Principal
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

const DEV_SECRET = DEVELOPMENT_JWT_SECRET

/** @fastify/jwt options to verify with one key: a PEM public key, or else a shared secret. */
function verifierOptions (key: { secret?: string | undefined, publicKey?: string | undefined, algorithms?: string | undefined }) {
  const asymmetric = key.publicKey !== undefined
  const algorithms = (key.algorithms ?? (asymmetric ? 'RS256' : 'HS256')).split(',')
  return {
    secret: asymmetric ? { public: key.publicKey as string } : (key.secret ?? DEV_SECRET),
    verify: { algorithms: algorithms as never, requiredClaims: ['exp', 'sub', 'tenant_id'] }
  }
}

async function auth (fastify: FastifyInstance, options: AuthOptions) {
  const { errors } = options
  if (options.publicKey === undefined && options.secret === undefined) {
    fastify.log.warn('JWT_SECRET is not set: using the development secret; never do this in production')
  }
  await fastify.register(fastifyJwt, verifierOptions(options))
  const previous = options.previous
  const hasPrevious = previous !== undefined && (previous.secret !== undefined || previous.publicKey !== undefined)
  if (hasPrevious) await fastify.register(fastifyJwt, { ...verifierOptions(previous), namespace: 'previous' })

  /** Claims of a token either key signed; the current key's error when neither did. */
  function verify (token: string): Record<string, unknown> {
    try {
      return fastify.jwt.verify<Record<string, unknown>>(token)
    } catch (err) {
      if (!hasPrevious || (err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw err
      try {
        return (fastify.jwt as unknown as Record<string, typeof fastify.jwt>).previous?.verify<Record<string, unknown>>(token) as Record<string, unknown>
      } catch (previousErr) {
        // Expired under the old key is still "expired" to the client: it needs a fresh token either way.
        throw (previousErr as { code?: string }).code === 'FAST_JWT_EXPIRED' ? previousErr : err
      }
    }
  }

  /** The principal of `token` for `tenantId`, or the typed refusal (401/403). */
  function verifyLiveToken (token: string | undefined, tenantId: string | undefined): Principal {
    if (token === undefined || token === '') throw new errors.TokenMissing()
    let claims: Record<string, unknown>
    try {
      claims = verify(token)
    } catch (err) {
      const code = (err as { code?: string }).code
      throw code === 'FAST_JWT_EXPIRED' ? new errors.TokenExpired() : new errors.TokenInvalid()
    }
    if (typeof claims.tenant_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') {
      throw new errors.TokenInvalid()
    }
    if (claims.tenant_id !== tenantId) throw new errors.TenantForbidden()
    return { sub: claims.sub, tenant_id: claims.tenant_id, exp: claims.exp }
  }
  fastify.decorate('verifyLiveToken', verifyLiveToken)

  fastify.decorate('authenticateLive', async function authenticateLive (request: FastifyRequest) {
    const token = extractToken(request)
    request.principal = verifyLiveToken(token, (request.params as { tenant_id?: string }).tenant_id)
    request.liveToken = token
  })
}

export const authPlugin = fp(auth, { name: 'training-live-auth' })
export { DEV_SECRET }
