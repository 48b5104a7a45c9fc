import type { FastifyInstance } from 'fastify'
import { authPlugin } from './auth.ts'
import type { AuthErrors, RequestErrors } from './errors.ts'
import { healthPlugin } from './health.ts'
import { listenFailure } from './listen.ts'
import { metricsPlugin } from './metrics.ts'
import { notFoundPlugin } from './request-errors.ts'
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

/** The plugins every service has: /health and /ready, /metrics on its own registry, the live route's JWT check, and a 404 that quotes no URL. */
export async function registerCommonPlugins (app: FastifyInstance, options: { metricsPrefix: string, config: CommonServiceConfig, errors: AuthErrors & RequestErrors }): Promise<void> {
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
  await app.register(notFoundPlugin, { errors: options.errors })
}

/**
 * A service's process entry: load config, build the app, serve. A bad config, or an address it
 * cannot listen on (a busy port, a wrong HOST), exits 1 with one line naming the reason.
 */
export async function startProcess<C extends CommonServiceConfig> (name: string, load: () => C, build: (config: C) => Promise<FastifyInstance>): Promise<void> {
  let config: C
  try {
    config = load()
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`)
    process.exit(1)
  }
  const app = await build(config)
  try {
    await runServer(app, { host: config.HOST, port: config.PORT, graceMs: config.SHUTDOWN_GRACE_MS })
  } catch (err) {
    const reason = listenFailure(name, config.HOST, config.PORT, err)
    if (reason === undefined) throw err
    console.error(`${name}: ${reason}`)
    process.exit(1)
  }
}
