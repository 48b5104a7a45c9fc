/**
 * Where a service listens, and how it says it cannot: loopback unless HOST
 * says otherwise, never beyond it on the public development secret, and
 * one line rather than a stack trace when the port is taken. Its logs are
 * pretty on a terminal and JSON lines when piped. (The rules live in
 * service-kit, shared by both services; the gateway is the one that starts
 * without RabbitMQ or Redis.)
 */
import t from 'tap'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { isLoopbackHost, listenFailure } from '@training-live/service-kit'
import { TEST_SECRET, eventually, freePort, startService } from '@training-live/test-kit'
import { loadGatewayConfig } from '../src/config.ts'
import { GATEWAY_DIR, isJson, lines, plain, pressCtrlC, run, runOnTerminal } from './helpers/process.ts'

// Off loopback the gateway also needs a link secret of its own; this test is about the JWT one.
const LINK_SECRET = 'test-link-secret-0123456789'
const REFUSAL = /^gateway: invalid configuration: refusing to listen on 0\.0\.0\.0 with the development JWT secret; set JWT_SECRET/

/** The gateway as its package's `start` runs it, with stdout and stderr apart. */
async function gateway (env: Record<string, string>) {
  const port = String(await freePort())
  return run(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: GATEWAY_DIR,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'info', JWT_SECRET: TEST_SECRET, PORT: port, ...env }
  })
}

/** An IPv4 address of this machine other than loopback, if it has one. */
function externalAddress (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

async function accepts (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect({ host, port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

t.test('loopback is localhost, 127.0.0.0/8 and ::1, however written', async t => {
  for (const host of ['localhost', 'LocalHost', '127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
    t.ok(isLoopbackHost(host), host)
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '126.255.255.255', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '']) {
    t.notOk(isLoopbackHost(host), host)
  }
})

t.test('HOST is loopback by default, and anything else needs a key of its own', async t => {
  t.equal(loadGatewayConfig({}).HOST, '127.0.0.1')
  t.equal(loadGatewayConfig({ HOST: '' }).HOST, '127.0.0.1', 'empty counts as unset')
  for (const host of ['localhost', '::1', '127.0.0.2']) {
    t.equal(loadGatewayConfig({ HOST: host }).HOST, host, `${host} on the development secret`)
  }
  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'gateway.internal']) {
    t.throws(() => loadGatewayConfig({ HOST: host }), { name: 'ConfigError', message: `refusing to listen on ${host} with the development JWT secret` }, `${host} on the development secret`)
  }
  t.throws(() => loadGatewayConfig({ HOST: '0.0.0.0', JWT_SECRET: '' }), { name: 'ConfigError' }, 'an empty JWT_SECRET is no secret')
  t.equal(loadGatewayConfig({ HOST: '0.0.0.0', JWT_SECRET: TEST_SECRET, LINK_SECRET }).HOST, '0.0.0.0', 'with JWT_SECRET')
  t.equal(loadGatewayConfig({ HOST: '::', JWT_PUBLIC_KEY: 'a PEM key', LINK_SECRET }).HOST, '::', 'with JWT_PUBLIC_KEY')
})

t.test('what a failed listen says', async t => {
  t.equal(listenFailure('gateway', '127.0.0.1', 8000, Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })),
    'port 8000 on 127.0.0.1 is in use (another gateway running? set PORT)')
  t.match(listenFailure('training', '10.9.9.9', 8001, { code: 'EADDRNOTAVAIL' }), /^cannot listen on 10\.9\.9\.9: .*set HOST/)
  t.match(listenFailure('training', 'nope.invalid', 8001, { code: 'ENOTFOUND' }), /^cannot listen on nope\.invalid: .*set HOST/)
  t.match(listenFailure('training', '127.0.0.1', 80, { code: 'EACCES' }), /port 80 .*set PORT/)
  t.equal(listenFailure('gateway', '127.0.0.1', 8000, new Error('something else')), undefined, 'anything else keeps its stack trace')
})

t.test('by default a service listens on 127.0.0.1 only, and logs JSON lines into a pipe', async t => {
  const service = await startService('gateway', { env: { HOST: '' }, waitFor: 'health' })
  t.teardown(() => service.stop())
  const listening = `"msg":"Server listening at http://127.0.0.1:${service.port}"`
  await eventually('the listening line', () => service.output().includes(listening))
  t.equal((await fetch(`${service.url}/health`)).status, 200, 'reachable on 127.0.0.1')
  const external = externalAddress()
  if (external === undefined) t.comment('this machine has no other IPv4 address to try')
  else t.equal(await accepts(external, Number(service.port)), false, `not reachable on ${external}`)
  const logged = lines(service.output())
  t.ok(logged.length > 0 && logged.every(isJson), 'every line is JSON', { output: service.output() })
})

t.test('HOST=0.0.0.0 on the development secret: exit 1 and one line saying why', async t => {
  const refused = await gateway({ HOST: '0.0.0.0', JWT_SECRET: '', LINK_SECRET })
  t.equal(await refused.closed, 1)
  const said = lines(refused.stderr())
  t.equal(said.length, 1, 'one line on stderr', { stderr: refused.stderr() })
  t.match(said[0], REFUSAL)
  t.notMatch(refused.stdout(), /listening/i, 'never listened')
})

t.test('HOST=0.0.0.0 with JWT_SECRET starts', async t => {
  const service = await startService('gateway', { env: { HOST: '0.0.0.0', LINK_SECRET }, waitFor: 'health' })
  t.teardown(() => service.stop())
  t.equal((await fetch(`${service.url}/health`)).status, 200)
  t.notMatch(service.output(), /refusing/)
})

t.test('a second service on a port in use: exit 1 and one line, no stack trace', async t => {
  const first = await startService('gateway', { waitFor: 'health' })
  t.teardown(() => first.stop())
  const second = await gateway({ PORT: first.port })
  t.equal(await second.closed, 1)
  t.same(lines(second.stderr()), [`gateway: port ${first.port} on 127.0.0.1 is in use (another gateway running? set PORT)`])
  t.notMatch(second.stdout() + second.stderr(), /^\s+at /m, 'no stack trace')
  t.equal((await fetch(`${first.url}/health`)).status, 200, 'the first one still serves')
})

t.test('on a terminal the logs are pretty, and Ctrl-C stops the service cleanly', async t => {
  const port = await freePort()
  const service = runOnTerminal(`exec '${process.execPath}' --import tsx src/server.ts`, {
    cwd: GATEWAY_DIR,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', JWT_SECRET: TEST_SECRET, PORT: String(port) }
  })
  await service.until(/Server listening at/, 'the listening line')
  const text = plain(service.stdout())
  t.match(text, new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: gateway: Server listening at http://127\\.0\\.0\\.1:${port}\\r?$`, 'm'))
  t.notMatch(text, /"level":/, 'no JSON')
  pressCtrlC(service)
  t.equal(await service.closed, 0)
  t.match(plain(service.stdout()), /INFO: gateway: closing/)
})
