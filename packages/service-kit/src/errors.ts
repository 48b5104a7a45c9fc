import createError from '@fastify/error'

/** A configuration value is missing or wrong; the process does not start. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  constructor (message: string) {
    super(`invalid configuration: ${message}`)
    this.name = 'ConfigError'
  }
}

/** The errors a live handshake can be refused with, made once per service prefix (`GATEWAY`, `TRAINING`). */
export function createAuthErrors (prefix: string) {
  return {
    TokenMissing: createError(`${prefix}_TOKEN_MISSING`, 'a token is required (query "token", Authorization: Bearer, or Sec-WebSocket-Protocol)', 401),
    TokenInvalid: createError(`${prefix}_TOKEN_INVALID`, 'the token is malformed, badly signed or lacks a required claim', 401),
    TokenExpired: createError(`${prefix}_TOKEN_EXPIRED`, 'the token has expired', 401),
    TenantForbidden: createError(`${prefix}_TENANT_FORBIDDEN`, 'the token is not valid for this tenant', 403)
  }
}
export type AuthErrors = ReturnType<typeof createAuthErrors>

/** Handshakes refused because this process holds too many connections, in all or for one tenant. */
export function createLimitErrors (prefix: string) {
  return {
    TooManyConnections: createError(`${prefix}_TOO_MANY_CONNECTIONS`, 'this server holds as many connections as it may; retry shortly (another replica may accept)', 503),
    TenantConnectionLimit: createError(`${prefix}_TENANT_CONNECTION_LIMIT`, 'this tenant holds as many connections as it may; close one or retry later', 429)
  }
}
export type LimitErrors = ReturnType<typeof createLimitErrors>

/**
 * Requests no route handles: no such route, a malformed URL or request. fastify's own answers to
 * these quote the request's URL, query string included; these quote nothing the client sent.
 */
export function createRequestErrors (prefix: string) {
  return {
    NotFound: createError(`${prefix}_NOT_FOUND`, 'no such route', 404),
    BadUrl: createError(`${prefix}_BAD_URL`, 'the URL is not validly percent-encoded', 400),
    UrlTooLong: createError(`${prefix}_URL_TOO_LONG`, 'a path segment of the URL is too long', 414),
    HeadersTooLarge: createError(`${prefix}_HEADERS_TOO_LARGE`, 'the request headers are too large', 431),
    RequestTimeout: createError(`${prefix}_REQUEST_TIMEOUT`, 'the request was not received in time', 408),
    BadRequest: createError(`${prefix}_BAD_REQUEST`, 'the request is malformed', 400),
    InternalError: createError(`${prefix}_INTERNAL_ERROR`, 'the request could not be handled', 500)
  }
}
export type RequestErrors = ReturnType<typeof createRequestErrors>
