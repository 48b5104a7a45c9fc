/**
 * What the Dockerfiles put in an image, without Docker: each service's
 * `pnpm deploy --prod` folder (the one step of the build that decides the
 * image's contents) holds no tests and no dev dependencies, and started
 * as the image starts it (`node --import tsx src/server.ts`, NODE_ENV=production)
 * it serves: a live client reaches a deployed training service through a
 * deployed gateway.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  LiveClient, deleteTopology, liveUrl, mintToken, startService, testTopology, uniqueId, type ServiceProcess
} from '@training-live/test-kit'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))

async function deployed (service: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `image-${service}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await run('pnpm', ['--filter', `@training-live/${service}`, 'deploy', '--prod', dir], { cwd: root })
  return dir
}

t.test('the deployed services start, connect and serve a live client', async t => {
  const topology = testTopology('image')
  const processes: ServiceProcess[] = []
  t.teardown(async () => {
    await Promise.all(processes.map(p => p.stop('SIGKILL')))
    await deleteTopology(topology)
  })
  const [trainingDir, gatewayDir] = await Promise.all([deployed('training'), deployed('gateway')])
  for (const dir of [trainingDir, gatewayDir]) {
    t.notOk(existsSync(join(dir, 'test')), 'no tests in the image')
    t.notOk(existsSync(join(dir, 'node_modules/tap')), 'no dev dependencies in the image')
    t.ok(existsSync(join(dir, 'node_modules/tsx')), 'tsx, which runs the sources')
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string }
    t.match(pkg.name, /^@training-live\/(training|gateway)$/)
  }
  const production = { NODE_ENV: 'production', LINK_SECRET: 'image-test-link-secret-0123456789' }
  const training = await startService('training', { cwd: trainingDir, env: { ...topology.env, ...production } })
  processes.push(training)
  const gateway = await startService('gateway', { cwd: gatewayDir, env: { TRAINING_URLS: training.url, ...production } })
  processes.push(gateway)

  const tenantId = uniqueId('tenant')
  const client = new LiveClient(liveUrl(gateway.wsUrl, tenantId, uniqueId('job'), { token: await mintToken({ tenantId }) }))
  t.teardown(() => client.close())
  const [snapshot] = await client.waitFor(m => m.length >= 1, 10_000, 'the snapshot')
  t.equal(snapshot?.type, 'connected')
  t.equal(await training.stop(), 0, 'training drains and exits 0 on SIGTERM')
  t.equal(await gateway.stop(), 0, 'the gateway too')
})
