/**
 * The live dashboard with simulated jobs, in one command:
 *   pnpm demo
 * Starts a training service (:8001) and a gateway (:8000) as `pnpm start`
 * does, unless they already answer /ready; the dashboard's dev server (:5173)
 * with the demo plugin; and the simulator, batch after batch (a few jobs of
 * twelve products, some failing), whose jobs the page picks up by itself.
 * Ctrl-C stops the simulator (failing the jobs under way), the dev server and
 * the services it started, then exits 0.
 * Uses AMQP_URL, AMQP_EXCHANGE, REDIS_URL and JWT_SECRET as the services do;
 * GATEWAY_PORT, TRAINING_PORT and DASHBOARD_PORT change the ports.
 */
import { DEV_SECRET } from '../packages/service-kit/src/auth.ts'
import { startDashboardServer, type DashboardServer } from '../packages/dashboard/src/demo/dev-server.ts'
import { DemoJobList } from '../packages/dashboard/src/demo/job-list.ts'
import { startDemoServices, type DemoServices } from '../packages/dashboard/src/demo/services.ts'
import { runDemoSimulation } from '../packages/dashboard/src/demo/simulation.ts'

const TENANT = 'tenant_demo'
const port = (name: string, fallback: number): number => Number(process.env[name] || fallback)
// Empty counts as unset, as in the services' configuration.
const secret = process.env.JWT_SECRET || DEV_SECRET

const controller = new AbortController()
const stop = (): void => {
  // pnpm and tsx both pass Ctrl-C on, so it may come twice; the stop is bounded anyway (services are killed after a grace).
  if (controller.signal.aborted) return
  console.log('\nstopping…')
  controller.abort()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)

let services: DemoServices | undefined
let dashboard: DashboardServer | undefined
try {
  services = await startDemoServices({
    gatewayPort: port('GATEWAY_PORT', 8000), trainingPort: port('TRAINING_PORT', 8001), secret, signal: controller.signal
  })
  console.log(services.started.length === 0
    ? `reusing the running gateway at ${services.gatewayWsUrl}`
    : `started ${services.started.join(' and ')}; gateway at ${services.gatewayWsUrl}`)

  const jobs = new DemoJobList()
  dashboard = await startDashboardServer({
    port: port('DASHBOARD_PORT', 5173),
    demo: { jobs, gateway: services.gatewayWsUrl, secret, tenantId: TENANT }
  })
  console.log(`\n  open ${dashboard.origin}/?tenant=${TENANT}\n`)
  console.log('simulating jobs of 12 products, a quarter of them failing; Ctrl-C to stop')
  await runDemoSimulation({
    tenantId: TENANT,
    jobs: 4,
    products: 12,
    rate: 5,
    failRatio: 0.25,
    url: process.env.AMQP_URL,
    exchange: process.env.AMQP_EXCHANGE,
    signal: controller.signal,
    jobList: jobs,
    onBatch: b => console.log(`batch ${b.batch}: ${b.completed} completed, ${b.failed} failed${b.stopped > 0 ? `, ${b.stopped} stopped` : ''}`)
  })
  console.log('stopped')
} catch (err) {
  console.error(controller.signal.aborted ? 'stopped before the demo was up' : `the demo failed: ${(err as Error).message}`)
  if (!controller.signal.aborted) process.exitCode = 1
} finally {
  await dashboard?.close()
  await services?.stop()
}
