/**
 * Where the page's tokens come from. The client asks for one on every
 * connect; in the demo a token is fetched from the dev server and reused
 * until shortly before it expires, so twenty jobs reconnecting at once make
 * one request, not twenty.
 */
export type TokenSource = () => Promise<string>

interface DemoTokenAnswer {
  token: string
  /** Seconds since the epoch. */
  expires_at: number
}

// A token this close to its expiry is replaced: the connection it opens should outlive the handshake.
const RENEW_BEFORE_MS = 30_000

export function demoTokenSource (tenantId: string, fetchImpl: typeof fetch = fetch.bind(globalThis), now = Date.now): TokenSource {
  let current: { token: string, expiresAtMs: number } | null = null
  let pending: Promise<string> | null = null
  const request = async (): Promise<string> => {
    const res = await fetchImpl(`/demo/token?tenant=${encodeURIComponent(tenantId)}`, { cache: 'no-store' })
    if (!res.ok) throw new Error(`the demo server refused a token (${res.status})`)
    const answer = await res.json() as DemoTokenAnswer
    current = { token: answer.token, expiresAtMs: answer.expires_at * 1000 }
    return answer.token
  }
  return async () => {
    if (current !== null && current.expiresAtMs - now() > RENEW_BEFORE_MS) return current.token
    pending ??= request().finally(() => { pending = null })
    return await pending
  }
}

export function fixedTokenSource (token: string): TokenSource {
  return async () => token
}
