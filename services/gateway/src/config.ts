import { Type, type Static } from 'typebox'
import { CommonConfig, ConfigError, LinkSecretConfig, linkSecretOf, loadConfig } from '@training-live/service-kit'

export const GatewayConfigSchema = Type.Object({
  ...CommonConfig,
  ...LinkSecretConfig,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  /** Comma-separated base URLs of training-service replicas. */
  TRAINING_URLS: Type.String({ minLength: 1, default: 'http://127.0.0.1:8001' }),
  /** A link to a training replica is pinged this often; one that has not answered the previous ping is dropped and reopened. */
  LINK_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
  /** How often each TRAINING_URLS name is resolved again, so that replicas added behind it get a link. */
  TRAINING_DNS_REFRESH_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  /** How long to wait for a replica to open a link, or to accept a session, before trying the next. */
  UPSTREAM_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 3000 }),
  /** A client whose unsent data stays above 64 KiB this long (it stopped reading) is closed with 1013. */
  SLOW_CLIENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 })
})
export type GatewayConfig = Static<typeof GatewayConfigSchema> & { upstreams: URL[], linkSecret: string }

export function parseUpstreams (value: string): URL[] {
  const urls = value.split(',').map(s => s.trim()).filter(s => s !== '')
  if (urls.length === 0) throw new ConfigError('TRAINING_URLS must list at least one URL')
  return urls.map(s => {
    let url: URL
    try { url = new URL(s) } catch { throw new ConfigError(`TRAINING_URLS has an invalid URL: ${s}`) }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
      throw new ConfigError(`TRAINING_URLS must use http(s) or ws(s): ${s}`)
    }
    return url
  })
}

export function loadGatewayConfig (env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config = loadConfig(GatewayConfigSchema, env)
  return { ...config, upstreams: parseUpstreams(config.TRAINING_URLS), linkSecret: linkSecretOf(config) }
}
