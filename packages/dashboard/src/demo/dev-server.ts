/**
 * Starts the dashboard's Vite dev server in process, with the demo plugin, so
 * that the demo, the browser test and the screenshot script feed the same job
 * list their simulator writes to (or without it, as `pnpm dev` serves the page).
 */
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createServer, type LogLevel, type ViteDevServer } from 'vite'
import { demoPlugin, type DemoPluginOptions } from './plugin.ts'

export const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url))

export interface DashboardServerOptions {
  /** The demo plugin's options; without them the page is served as `pnpm dev` serves it. */
  demo?: DemoPluginOptions
  /** 0 for any free port; a busy fixed port makes Vite take the next free one. */
  port?: number
  host?: string
  logLevel?: LogLevel
}

export interface DashboardServer {
  server: ViteDevServer
  /** The page's origin, e.g. `http://127.0.0.1:5173`. */
  origin: string
  close: () => Promise<void>
}

export async function startDashboardServer (options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const { port = 5173, host = '127.0.0.1', logLevel = 'warn', demo } = options
  const server = await createServer({
    configFile: `${PACKAGE_DIR}vite.config.ts`,
    root: PACKAGE_DIR,
    logLevel,
    server: { port, host },
    plugins: demo === undefined ? [] : [demoPlugin(demo)]
  })
  await server.listen()
  const address = server.httpServer?.address() as AddressInfo
  return { server, origin: `http://${host}:${address.port}`, close: () => server.close() }
}
