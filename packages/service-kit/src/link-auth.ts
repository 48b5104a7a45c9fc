/**
 * The link's service credential: a gateway presents `LINK_SECRET` as a
 * bearer token when it opens a link, and a training replica accepts no
 * link without it, so only gateways can open sessions in its name.
 */
import { timingSafeEqual } from 'node:crypto'
import { Type } from 'typebox'
import { ConfigError } from './errors.ts'
import { isLoopbackHost } from './listen.ts'

/** Used only when LINK_SECRET is unset and the service listens on loopback in development. */
export const DEVELOPMENT_LINK_SECRET = 'training-live-development-link-secret'

export const LinkSecretConfig = {
  /** Shared by gateways and training replicas; required in production and off loopback. */
  LINK_SECRET: Type.Optional(Type.String({ minLength: 16 }))
}

/** The link secret to use, or a ConfigError when the development one would be used where it must not. */
export function linkSecretOf (c: { LINK_SECRET?: string | undefined, NODE_ENV: string, HOST: string }): string {
  if (c.LINK_SECRET !== undefined) return c.LINK_SECRET
  if (c.NODE_ENV === 'production') throw new ConfigError('LINK_SECRET must be set when NODE_ENV=production')
  if (!isLoopbackHost(c.HOST)) throw new ConfigError(`refusing to listen on ${c.HOST} with the development LINK_SECRET; set LINK_SECRET, or HOST=127.0.0.1`)
  return DEVELOPMENT_LINK_SECRET
}

/** Whether an Authorization header carries `secret` (compared in constant time). */
export function linkCredentialMatches (authorization: string | undefined, secret: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  if (match === null) return false
  const given = Buffer.from(match[1] as string)
  const expected = Buffer.from(secret)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
