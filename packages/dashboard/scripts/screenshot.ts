/**
 * Saves docs/dashboard.png: the dashboard mid-run, with jobs at various
 * progress, one completed and one failed, on the same stack as the browser
 * test (services on free ports with their own topology, the demo dev server,
 * Debian's Chromium).
 *   pnpm --filter @training-live/dashboard screenshot [output.png]
 */
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { startBrowserStack } from '../test/helpers/browser-stack.ts'

const output = process.argv.slice(2).find(a => a !== '--') ?? fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url))
const tenantId = 'tenant_demo'
const products = 12
const RUNNING = 4

const stack = await startBrowserStack('screenshot', { width: 1280, height: 800 })
const controller = new AbortController()
const runs: Array<Promise<unknown>> = []
try {
  const page = await stack.context.newPage()
  await page.goto(`${stack.dashboard.origin}/?tenant=${tenantId}`)
  // First two jobs run to their end at once: one completes, one fails.
  await stack.simulate({ tenantId, jobs: 2, products, failRatio: 0.5, rate: 12, seed: 3, jobIdPrefix: `training_${randomBytes(3).toString('hex')}` })
  // Then jobs at different paces, so each is at a different height when the picture is taken.
  for (const [i, rate] of [3.6, 2.6, 1.8, 1.2].entries()) {
    const run = stack.simulate({ tenantId, jobs: 1, products, rate, seed: 10 + i, jobIdPrefix: `training_${randomBytes(3).toString('hex')}`, signal: controller.signal })
    // Awaited below; should the page never get there, the runs are stopped and their ends not waited for.
    run.catch(() => {})
    runs.push(run)
    await sleep(400)
  }
  const running = async (): Promise<number[]> => await page.locator('.job[data-status="running"] [role="progressbar"]')
    .evaluateAll(bars => bars.map(b => Number(b.getAttribute('aria-valuenow'))))
  const deadline = Date.now() + 30_000
  for (let bars = await running(); bars.length < RUNNING || Math.max(...bars) < 70; bars = await running()) {
    if (Date.now() > deadline) throw new Error(`the jobs never got there: ${bars.join(' ')}`)
    await sleep(50)
  }
  await page.screenshot({ path: output })
  console.log(`saved ${output}`)
  controller.abort()
  await Promise.all(runs)
} finally {
  controller.abort()
  await stack.stop()
}
