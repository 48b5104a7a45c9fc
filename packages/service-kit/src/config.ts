/**
 * Configuration is read from the environment once, at start, validated
 * against a schema with defaults. A bad value stops the process with a
 * message that names the variable.
 */
import envSchema from 'env-schema'
import { Type, type Static, type TObject, type TProperties } from 'typebox'
import { ConfigError } from './errors.ts'
import { isLoopbackHost } from './listen.ts'

const ALGORITHMS = '^((HS|RS|PS|ES)(256|384|512)|EdDSA)(,((HS|RS|PS|ES)(256|384|512)|EdDSA))*$'

/** Settings every service has. */
export const CommonConfig = {
  NODE_ENV: Type.String({ default: 'development' }),
  /** Loopback by default: containers set 0.0.0.0 (or their pod address) themselves. */
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'),
    Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  /** HS256 shared secret. Required in production unless JWT_PUBLIC_KEY is set. */
  JWT_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  /** PEM public key for asymmetric tokens (RS*, PS*, ES*, EdDSA); takes precedence over JWT_SECRET. */
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated algorithms accepted; `none` is never accepted. Defaults to HS256, or RS256 with a public key. */
  JWT_ALGORITHMS: Type.Optional(Type.String({ pattern: ALGORITHMS })),
  /** During a key rotation, the key being replaced: tokens it signed are still accepted (docs/operations.md, Rotating the JWT key). */
  JWT_PREVIOUS_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  JWT_PREVIOUS_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1 })),
  JWT_PREVIOUS_ALGORITHMS: Type.Optional(Type.String({ pattern: ALGORITHMS })),
  /** Seconds between WebSocket pings; a socket that has not answered the previous one is dropped. */
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
  /** Largest frame a client may send, in bytes. */
  MAX_INBOUND_FRAME_BYTES: Type.Integer({ minimum: 64, maximum: 16 * 1024 * 1024, default: 16 * 1024 }),
  /** A socket whose unsent data stays above this many bytes is cut with 1013. */
  MAX_SEND_BUFFER_BYTES: Type.Integer({ minimum: 1024, maximum: 512 * 1024 * 1024, default: 1024 * 1024 }),
  /** Live connections one process holds at once; more are refused with 503 and Retry-After. */
  MAX_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  /** Live connections one tenant holds at once in one process; more are refused with 429 and Retry-After. */
  MAX_CONNECTIONS_PER_TENANT: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
  /** Messages a client may send per second on one socket (burst equal to the rate); over it the socket is closed with 1008. */
  MAX_INBOUND_MESSAGES_PER_SECOND: Type.Integer({ minimum: 1, maximum: 100_000, default: 20 }),
  /** Time a client has, from opening a connection, to send its whole HTTP request (the WebSocket handshake). */
  HANDSHAKE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 })
}

/** Loads and validates configuration from `env`, or throws a ConfigError. */
export function loadConfig<P extends TProperties> (schema: TObject<P>, env: NodeJS.ProcessEnv = process.env): Static<TObject<P>> {
  // An empty variable (`JWT_SECRET=`) counts as unset: drop it before validation, so that it takes
  // the default or stays undefined instead of failing a length or pattern check.
  const data: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') data[key] = value
  }
  let config: Static<TObject<P>>
  try {
    // env: false, or env-schema would merge process.env back in under `data`, empty values included.
    config = envSchema<Static<TObject<P>>>({ schema, data, env: false, dotenv: false })
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const c = config as Record<string, unknown>
  if (c.NODE_ENV === 'production' && c.JWT_SECRET === undefined && c.JWT_PUBLIC_KEY === undefined) {
    throw new ConfigError('JWT_SECRET (or JWT_PUBLIC_KEY) must be set when NODE_ENV=production')
  }
  // The development secret is public: anyone who can reach the port could mint tokens for any tenant.
  if (typeof c.HOST === 'string' && !isLoopbackHost(c.HOST) && c.JWT_SECRET === undefined && c.JWT_PUBLIC_KEY === undefined) {
    throw new ConfigError(`refusing to listen on ${c.HOST} with the development JWT secret; set JWT_SECRET (or JWT_PUBLIC_KEY), or HOST=127.0.0.1`)
  }
  return config
}
