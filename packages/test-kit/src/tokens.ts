import { SignJWT } from 'jose'
import { TEST_SECRET } from './services.ts'

export interface TokenOptions {
  tenantId: string
  sub?: string
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number
  secret?: string
  /** Claims to leave out, to test required-claim checks. */
  omit?: Array<'sub' | 'exp' | 'tenant_id'>
}

export async function mintToken (options: TokenOptions): Promise<string> {
  const claims: Record<string, unknown> = { tenant_id: options.tenantId }
  if (options.omit?.includes('tenant_id')) delete claims.tenant_id
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt()
  if (!options.omit?.includes('sub')) jwt = jwt.setSubject(options.sub ?? 'test-user')
  if (!options.omit?.includes('exp')) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 600))
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET))
}

/** An unsigned token (`alg: none`) with otherwise valid claims. */
export function unsignedToken (tenantId: string): string {
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ tenant_id: tenantId, sub: 'x', exp: Math.floor(Date.now() / 1000) + 600 })}.`
}
