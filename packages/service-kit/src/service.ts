import type { FastifyInstance } from 'fastify'
import { authPlugin } from './auth.ts'
import type { AuthErrors } from './errors.ts'
import { healthPlugin } from './health.ts'
import { metricsPlugin } from './metrics.ts'
import { runServer } from './server.ts'

export interface CommonServiceConfig {
  HOST: string
  PORT: number
  SHUTDOWN_GRACE_MS: number
  JWT_SECRET?: string | undefined
  JWT_PUBLIC_KEY?: string | undefined
  JWT_ALGORITHMS?: string | undefined
  JWT_PREVIOUS_SECRET?: string | undefined
  JWT_PREVIOUS_PUBLIC_KEY?: string | undefined
  JWT_PREVIOUS_ALGORITHMS?: string | undefined
}

/** The plugins every service has: /health and /ready, /metrics on its own registry, and the live route's JWT check. */
export async function registerCommonPlugins (app: FastifyInstance, options: { metricsPrefix: string, config: CommonServiceConfig, errors: AuthErrors }): Promise<void> {
  await app.register(metricsPlugin, { prefix: options.metricsPrefix })
  await app.register(healthPlugin, { metricsPrefix: options.metricsPrefix })
  await app.register(authPlugin, {
    secret: options.config.JWT_SECRET,
    publicKey: options.config.JWT_PUBLIC_KEY,
    algorithms: options.config.JWT_ALGORITHMS,
    previous: {
      secret: options.config.JWT_PREVIOUS_SECRET,
      publicKey: options.config.JWT_PREVIOUS_PUBLIC_KEY,
      algorithms: options.config.JWT_PREVIOUS_ALGORITHMS
    },
    errors: options.errors
  })
}

/** A service's process entry: load config (a bad one exits 1 with the reason), build the app, serve. */
export async function startProcess<C extends CommonServiceConfig> (name: string, load: () => C, build: (config: C) => Promise<FastifyInstance>): Promise<void> {
  let config: C
  try {
    config = load()
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`)
    process.exit(1)
  }
  const app = await build(config)
  await runServer(app, { host: config.HOST, port: config.PORT, graceMs: config.SHUTDOWN_GRACE_MS })
}
