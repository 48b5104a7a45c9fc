import { startProcess } from '@training-live/service-kit'
import { buildApp } from './app.ts'
import { loadTrainingConfig } from './config.ts'

await startProcess('training', () => loadTrainingConfig(), buildApp)
