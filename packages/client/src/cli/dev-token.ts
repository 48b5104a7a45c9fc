/**
 * Tokens for watching a local stack without a login: HS256, signed with
 * JWT_SECRET, or else the development secret the services fall back to.
 */
import { SignJWT } from 'jose'
import { DEVELOPMENT_JWT_SECRET } from '@training-live/events'

/** Long enough for a watch; a fresh one is signed for every connection anyway. */
const TTL_SECONDS = 3600

/** A getToken that signs a fresh token for `tenantId` each time it is called. */
export async function devTokenSource (tenantId: string, env: Record<string, string | undefined>): Promise<() => Promise<string>> {
  // Empty counts as unset, as for the services.
  const secret = env.JWT_SECRET || DEVELOPMENT_JWT_SECRET
  const key = new TextEncoder().encode(secret)
  return async () => await new SignJWT({ tenant_id: tenantId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('watch-cli')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + TTL_SECONDS)
    .sign(key)
}
