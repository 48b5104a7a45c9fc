/**
 * The SDK as a browser gets it: bundled by esbuild (what Vite uses too) for
 * the browser platform, with nothing from Node in it, and run in a context
 * that has only what a page has.
 */
import { fileURLToPath } from 'node:url'
import { createContext, runInContext } from 'node:vm'
import { build } from 'esbuild'
import t from 'tap'
import type * as Client from '../src/index.ts'
import { fakeServer } from './helpers/fake-socket.ts'
import { JOB, TENANT, snapshot } from './helpers/messages.ts'

const ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url))

async function bundle (format: 'esm' | 'iife') {
  return await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format,
    globalName: 'TrainingLiveClient',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent'
  })
}

t.test('bundles for the browser with no Node module, no validator, small', async t => {
  const result = await bundle('esm')
  t.strictSame(result.errors, [])
  t.strictSame(result.warnings, [])
  const [output] = Object.values(result.metafile.outputs)
  // What went into the bundle (the bundler reads more, and drops what nothing uses).
  const used = Object.entries(output?.inputs ?? {}).filter(([, i]) => i.bytesInOutput > 0).map(([path]) => path)
  const packages = [...new Set(used.flatMap(p => /node_modules\/\.pnpm\/(.+?)@[^@/]+\//.exec(p)?.[1] ?? []))]
  t.strictSame(packages, ['eventemitter3'], 'only eventemitter3 from outside the workspace')
  t.notOk(used.some(p => p.startsWith('node:')), 'no Node module')
  // The schemas and their compiled validators are left out: the events package has no side effects.
  t.notOk(used.some(p => /events\/src\/(schemas|validate|publisher)\.ts$/.test(p)), `from the events package: ${used.filter(p => p.includes('events/src')).join(', ')}`)
  t.ok(output !== undefined && output.bytes < 24 * 1024, `${output?.bytes} bytes minified`)
  const code = result.outputFiles[0]?.text ?? ''
  t.notMatch(code, /\brequire\(|node:|\bBuffer\b|\bprocess\./)
})

t.test('the bundle runs where only a page\'s globals exist', async t => {
  const result = await bundle('iife')
  const server = fakeServer('browser')
  // A page's globals the SDK relies on; no process, Buffer, require or module.
  const page = createContext({ URL, setTimeout, clearTimeout, AbortController, WebSocket: server.WebSocket })
  runInContext(result.outputFiles[0]?.text ?? '', page)
  const client = (page as { TrainingLiveClient: typeof Client }).TrainingLiveClient
  const watch = client.watchJob({ baseUrl: 'https://dashboard.test', tenantId: TENANT, jobId: JOB, getToken: () => 'page-token' })
  const socket = await server.socket(1)
  t.match(socket.url, /^wss:\/\/dashboard\.test\/api\/v1\/tenants\//)
  t.strictSame(socket.protocols, ['bearer', 'page-token'])
  socket.open()
  socket.deliver(snapshot({ progress: 65 }))
  t.equal(watch.state.progress, 65)
  watch.close()
  t.equal(watch.connection, 'closed')
})
