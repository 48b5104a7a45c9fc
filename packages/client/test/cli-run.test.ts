/** The terminal watcher in process, against a fake server: what it prints and the exit code it returns. */
import t from 'tap'
import { runWatch, type RunOptions } from '../src/cli/run.ts'
import { fakeServer, settle, type FakeServer, type FakeSocket } from './helpers/fake-socket.ts'
import { JOB, TENANT, completed, failed, product, snapshot } from './helpers/messages.ts'

interface Run {
  exit: Promise<number>
  stdout: () => string
  stderr: () => string
  server: FakeServer<FakeSocket>
}

function run (argv: string[], options: Partial<RunOptions> & { isTTY?: boolean } = {}): Run {
  const server = fakeServer('browser')
  let out = ''
  let err = ''
  const exit = runWatch({
    argv,
    env: { JWT_SECRET: 'a-secret-of-sixteen-chars' },
    stdout: { isTTY: options.isTTY ?? false, columns: 200, write: s => { out += s } },
    stderr: { write: s => { err += s } },
    WebSocket: server.WebSocket,
    ...options
  })
  return { exit, stdout: () => out, stderr: () => err, server }
}

const ARGS = [TENANT, JOB, '--url', 'ws://gateway.test', '--token', 'cli-token']

t.test('--help: the usage, exit 0', async t => {
  const r = run(['--help'])
  t.equal(await r.exit, 0)
  t.match(r.stdout(), /^Usage: pnpm watch -- <tenant_id> <job_id>/)
})

t.test('bad arguments or URL: exit 2 with a message', async t => {
  const missing = run([TENANT])
  t.equal(await missing.exit, 2)
  t.equal(missing.stderr(), 'watch: expected <tenant_id> <job_id>, got 1 argument\nUsage: pnpm watch -- <tenant_id> <job_id> [--url URL] [--token TOKEN]\nRun with --help for more.\n')
  t.equal(missing.stdout(), '', 'nothing on stdout')
  const url = run([TENANT, JOB, '--url', 'ftp://gateway.test'])
  t.equal(await url.exit, 2)
  t.match(url.stderr(), /baseUrl must be ws, wss, http or https/)
})

t.test('a job that completes: a line per change, exit 0', async t => {
  const r = run(ARGS)
  const socket = await r.server.socket(1)
  t.equal(socket.token, 'cli-token')
  socket.open()
  socket.deliver(snapshot())
  socket.deliver(product('101-0', 1))
  socket.deliver(completed('102-0'))
  socket.serverClose(1000)
  t.equal(await r.exit, 0)
  t.equal(r.stdout(), [
    `watching ${TENANT}/${JOB} through ws://gateway.test`,
    '[....................]   0%  0/? products  pending  open',
    '[####................]  20%  0/4 products  running  open  Data Analysis',
    '[#######.............]  35%  1/4 products  running  open  Trained p1',
    '[####################] 100%  4/4 products  completed  open  Trained p4',
    '[####################] 100%  4/4 products  completed  closed  Trained p4',
    'job completed',
    ''
  ].join('\n'))
})

t.test('each failed attempt: a line on stderr saying why and when it retries; then the progress line', async t => {
  const r = run([...ARGS, '--url', 'ws://127.0.0.1:8000'])
  ;(await r.server.socket(1)).serverClose(1006)
  ;(await r.server.socket(2)).serverClose(1006)
  const third = await r.server.socket(3)
  const lines = r.stderr().split('\n')
  t.equal(lines.length, 3, 'a line per failed attempt')
  for (const line of lines.slice(0, 2)) t.match(line, /^cannot reach ws:\/\/127\.0\.0\.1:8000: cannot connect; retrying in \d+(\.\d)? s$/)
  t.equal(r.stdout(), `watching ${TENANT}/${JOB} through ws://127.0.0.1:8000\n`, 'no progress line before it connects')
  third.open()
  third.deliver(snapshot())
  third.serverClose(1011, 'upstream lost')
  const fourth = await r.server.socket(4)
  t.match(r.stdout(), /running {2}open {2}Data Analysis\n.*running {2}reconnecting {2}Data Analysis\n$/)
  t.match(r.stderr(), /\nlost the connection to ws:\/\/127\.0\.0\.1:8000: closed 1011 upstream lost; reconnecting in [\d.]+ s\n$/)
  fourth.open()
  fourth.serverClose(1000)
  t.equal(await r.exit, 1)
})

t.test('on a terminal, a retry leaves the line drawn in place and goes under it', async t => {
  const r = run(ARGS, { isTTY: true })
  const socket = await r.server.socket(1)
  socket.open()
  socket.deliver(snapshot())
  socket.serverClose(1012)
  const second = await r.server.socket(2)
  const redraw = '\r\x1b[2K'
  const line = (connection: string): string => `${redraw}[####................]  20%  0/4 products  running  ${connection}  Data Analysis`
  t.ok(r.stdout().endsWith(`${line('reconnecting')}\n`), 'the reconnecting line is drawn in place, then ended, so that stderr starts on a line of its own')
  t.match(r.stderr(), /^lost the connection to ws:\/\/gateway\.test: closed 1012 \(service restart\); reconnecting /)
  second.open()
  t.ok(r.stdout().endsWith(`${line('reconnecting')}\n${line('open')}`), 'then drawn in place again')
  second.serverClose(1000)
  await r.exit
})

t.test('on a terminal: the line redrawn in place', async t => {
  const r = run(ARGS, { isTTY: true })
  const socket = await r.server.socket(1)
  socket.open()
  socket.deliver(snapshot())
  socket.deliver(completed('102-0'))
  socket.serverClose(1000)
  t.equal(await r.exit, 0)
  const [header, drawing, end] = r.stdout().split('\n')
  t.match(header, /^watching /)
  t.equal(drawing?.split('\r\x1b[2K').length, 5, 'four redraws on one line')
  t.equal(end, 'job completed')
})

t.test('a job that fails: exit 1 with its error', async t => {
  const r = run(ARGS)
  const socket = await r.server.socket(1)
  socket.open()
  socket.deliver(snapshot())
  socket.deliver(failed('101-0', 'out of memory'))
  socket.serverClose(1000)
  t.equal(await r.exit, 1)
  t.match(r.stdout(), /job failed: out of memory\n$/)

  const bare = run(ARGS)
  const s = await bare.server.socket(1)
  s.open()
  s.deliver(snapshot({ status: 'failed' }))
  s.serverClose(1000)
  t.equal(await bare.exit, 1)
  t.match(bare.stdout(), /job failed: no reason given\n$/)
})

t.test('the watch gives up: exit 1 with the reason', async t => {
  const r = run(ARGS)
  const socket = await r.server.socket(1)
  socket.open()
  socket.serverClose(1008, 'message rate exceeded')
  t.equal(await r.exit, 1)
  t.match(r.stderr(), /^watch: gave up \(POLICY\): .*close 1008 message rate exceeded/)
})

t.test('a 1000 before the job finished: exit 1, saying so', async t => {
  const r = run(ARGS)
  const socket = await r.server.socket(1)
  socket.open()
  socket.deliver(snapshot())
  socket.serverClose(1000)
  t.equal(await r.exit, 1)
  t.match(r.stdout(), /the server ended the watch with the job running\n$/)
})

t.test('Ctrl-C: closes the watch, exit 130; after the job finished, the job\'s own code', async t => {
  const controller = new AbortController()
  const r = run(ARGS, { signal: controller.signal })
  const socket = await r.server.socket(1)
  socket.open()
  socket.deliver(snapshot())
  controller.abort()
  t.equal(await r.exit, 130)
  t.match(r.stdout(), /stopped\n$/)
  t.ok(socket.closedByClient !== null, 'the socket was closed')

  const early = run(ARGS, { signal: AbortSignal.abort() })
  t.equal(await early.exit, 130)
  await settle()
  t.equal(early.server.sockets.length, 0, 'interrupted before it connected')

  const late = new AbortController()
  const done = run(ARGS, { signal: late.signal })
  const s = await done.server.socket(1)
  s.open()
  s.deliver(snapshot({ status: 'completed', progress: 100 }))
  late.abort()
  t.equal(await done.exit, 0)
})

t.test('without --token, a development token signed with JWT_SECRET', async t => {
  const r = run([TENANT, JOB, '--url', 'ws://gateway.test'])
  const socket = await r.server.socket(1)
  t.match(socket.token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/)
  socket.open()
  socket.serverClose(1000)
  await r.exit
})

t.test('with the real ws (the default), against a local WebSocket server', async t => {
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'bearer' })
  t.teardown(() => new Promise(resolve => wss.close(resolve)))
  const protocols: string[] = []
  wss.on('connection', (socket, request) => {
    protocols.push(String(request.headers['sec-websocket-protocol']))
    socket.send(JSON.stringify(snapshot({ status: 'completed', progress: 100, products_completed: 4, last_id: '7-0' })))
    socket.close(1000, 'job finished')
  })
  await new Promise(resolve => wss.once('listening', resolve))
  const { port } = wss.address() as { port: number }
  let out = ''
  const exit = await runWatch({
    argv: [TENANT, JOB, '--url', `http://127.0.0.1:${port}`, '--token', 'real-token'],
    env: {},
    stdout: { write: s => { out += s } },
    stderr: { write: () => {} }
  })
  t.equal(exit, 0)
  t.match(out, /100% {2}4\/4 products {2}completed/)
  t.strictSame(protocols, ['bearer,real-token'], 'the token as the second subprotocol')
})
