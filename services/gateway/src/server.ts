import { startProcess } from '@training-live/service-kit'
import { buildApp } from './app.ts'
import { loadGatewayConfig } from './config.ts'

await startProcess('gateway', () => loadGatewayConfig(), buildApp)
