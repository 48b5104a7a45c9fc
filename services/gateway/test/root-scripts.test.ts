/**
 * The root scripts as a user runs them, through pnpm (on PATH, as in CI):
 * `pnpm start` hands the services the terminal, so their logs are pretty
 * there and JSON lines in a pipe, stops both on one Ctrl-C or SIGTERM, and
 * fails with a failing service's code; a program's failure reaches the user
 * as the program's own message and exit code, without pnpm's failure box.
 */
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { deleteKeys, deleteTopology, freePort, testTopology } from '@training-live/test-kit'
import { ROOT, isJson, lines, plain, pressCtrlC, run, runOnTerminal } from './helpers/process.ts'

/** Environment for `pnpm start` on ports and a topology of this test's own. */
async function startEnv (t: Test, name: string): Promise<{ env: NodeJS.ProcessEnv, gatewayPort: number, trainingPort: number }> {
  const topology = testTopology(name)
  t.teardown(async () => {
    await deleteTopology(topology)
    await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
  })
  const trainingPort = await freePort()
  let gatewayPort = await freePort()
  while (gatewayPort === trainingPort) gatewayPort = await freePort()
  return {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...topology.env, GATEWAY_PORT: String(gatewayPort), TRAINING_PORT: String(trainingPort) },
    gatewayPort,
    trainingPort
  }
}

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, 'g'))?.length ?? 0

t.test('pnpm start on a terminal: pretty logs of both services; one Ctrl-C stops both cleanly', async t => {
  const { env, gatewayPort, trainingPort } = await startEnv(t, 'start-tty')
  const start = runOnTerminal('exec pnpm start', { cwd: ROOT, env })
  await start.until(new RegExp(`gateway: Server listening at http://127\\.0\\.0\\.1:${gatewayPort}`), 'the gateway listening')
  await start.until(new RegExp(`training: Server listening at http://127\\.0\\.0\\.1:${trainingPort}`), 'the training service listening')
  pressCtrlC(start)
  t.equal(await start.closed, 0, 'exit code 0')
  const text = plain(start.stdout())
  t.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: training: Server listening at/m, 'pretty')
  t.notMatch(text, /"level":/, 'no JSON')
  // Each service had the signal once: a second one would end it at once, skipping its drain.
  t.equal(count(text, /INFO: gateway: closing/), 1, 'the gateway drained')
  t.equal(count(text, /INFO: training: closing/), 1, 'the training service drained')
  t.notMatch(text, /second SIG/)
})

t.test('pnpm start into a pipe: JSON lines; SIGTERM stops both', async t => {
  const { env } = await startEnv(t, 'start-pipe')
  // Its own process group, signalled as a whole as a supervisor would.
  const start = run('pnpm', ['start'], { cwd: ROOT, env, detached: true })
  await start.until(/"service":"gateway","msg":"Server listening at/, 'the gateway listening')
  await start.until(/"service":"training","msg":"Server listening at/, 'the training service listening')
  process.kill(-(start.child.pid as number), 'SIGTERM')
  // Closed: every process that held the pipe, the services included, is gone.
  await start.closed
  const logged = lines(start.stdout())
  t.ok(logged.every(isJson), 'every line on stdout is JSON', { stdout: start.stdout() })
  const closing = logged.filter(isJson).map(l => JSON.parse(l) as { service?: string, msg?: string, signal?: string }).filter(l => l.msg === 'closing')
  t.same(closing.map(l => `${l.service} ${l.signal}`).sort(), ['gateway SIGTERM', 'training SIGTERM'], 'each service had SIGTERM once')
})

t.test('the services of pnpm start do not outlive it, even when it is killed', async t => {
  const { env } = await startEnv(t, 'start-killed')
  const start = run(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env })
  await start.until(/"service":"gateway","msg":"Server listening at/, 'the gateway listening')
  await start.until(/"service":"training","msg":"Server listening at/, 'the training service listening')
  start.child.kill('SIGKILL')
  // The services hold the same pipe: it closes when they are gone too.
  await start.closed
  const closing = lines(start.stdout()).filter(isJson).map(l => JSON.parse(l) as { service?: string, msg?: string }).filter(l => l.msg === 'closing')
  t.same(closing.map(l => l.service).sort(), ['gateway', 'training'], 'both drained on their own')
})

t.test('pnpm start with the gateway\'s port taken: the gateway\'s one line, its exit code, the training service stopped', async t => {
  const { env, gatewayPort } = await startEnv(t, 'start-busy')
  const holder = createServer().listen(gatewayPort, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => { holder.close() })
  const start = run('pnpm', ['start'], { cwd: ROOT, env })
  t.equal(await start.closed, 1, 'exit code 1, the gateway\'s')
  t.match(start.stderr(), new RegExp(`^gateway: port ${gatewayPort} on 127\\.0\\.0\\.1 is in use \\(another gateway running\\? set PORT\\)$`, 'm'))
  t.notMatch(start.stderr(), /ERR_PNPM|^\s+at /m, 'no failure box, no stack trace')
})

t.test('a root script\'s failure is the program\'s own message and exit code, without pnpm\'s box', async t => {
  for (const [script, program] of [['watch', 'packages/client/src/cli/watch.ts'], ['simulate', 'packages/simulator/src/cli.ts']] as const) {
    const env = { PATH: process.env.PATH }
    const direct = run(process.execPath, ['--import', 'tsx', program, '--no-such-option'], { cwd: ROOT, env })
    const viaPnpm = run('pnpm', [script, '--no-such-option'], { cwd: ROOT, env })
    const [directCode, pnpmCode] = await Promise.all([direct.closed, viaPnpm.closed])
    t.not(directCode, 0, `${script}: a usage error fails`)
    t.equal(pnpmCode, directCode, `pnpm ${script}: the program's exit code`)
    t.ok(viaPnpm.stderr().includes(direct.stderr()), `pnpm ${script}: the program's message`, { stderr: viaPnpm.stderr() })
    t.notMatch(viaPnpm.stdout() + viaPnpm.stderr(), /ERR_PNPM|recursive run/i, `pnpm ${script}: no recursive-run failure box`)
  }
})
