/**
 * The dashboard page alone (`pnpm dev`, `pnpm build`). The demo adds its plugin
 * (tokens and the simulator's job list) when it starts this config in process:
 * src/demo/dev-server.ts.
 */
import { defineConfig } from 'vite'

export default defineConfig({
  // The dev server answers on the loopback interface only; the demo plugin mints tokens for anyone who asks.
  server: { host: '127.0.0.1', port: 5173 },
  clearScreen: false,
  build: { target: 'es2022' }
})
