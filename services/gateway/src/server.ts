import { runServer } from '@training-live/service-kit'
import { buildApp } from './app.ts'
import { loadGatewayConfig } from './config.ts'

let config
try {
  config = loadGatewayConfig()
} catch (err) {
  console.error(`gateway: ${(err as Error).message}`)
  process.exit(1)
}
const app = await buildApp(config)
await runServer(app, { host: config.HOST, port: config.PORT, graceMs: config.SHUTDOWN_GRACE_MS })
