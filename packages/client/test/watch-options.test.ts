/** Options watchJob refuses at once, and where it finds a WebSocket. */
import t from 'tap'
import type WebSocket from 'ws'
import type { WatchOptions } from '../src/job-watch.ts'
import { watchJob } from '../src/watch-job.ts'
import type { WebSocketConstructor } from '../src/socket.ts'
import { fakeServer } from './helpers/fake-socket.ts'
import { JOB, TENANT } from './helpers/messages.ts'

// The browser's WebSocket (lib DOM) and `ws`'s class must both be accepted as they are; tsc checks these.
const browserFits: typeof globalThis.WebSocket extends WebSocketConstructor ? true : never = true
const wsFits: typeof WebSocket extends WebSocketConstructor ? true : never = true

const base: WatchOptions = { baseUrl: 'ws://gateway.test', tenantId: TENANT, jobId: JOB, getToken: () => 't' }

t.test('the browser\'s and ws\' WebSocket classes fit the option', async t => {
  t.ok(browserFits && wsFits)
})

t.test('bad options throw a WatchError at once', async t => {
  const { WebSocket } = fakeServer('browser')
  const cases: Array<[string, Record<string, unknown>]> = [
    ['no tenant', { tenantId: '' }],
    ['no job', { jobId: undefined }],
    ['getToken not a function', { getToken: 'token' }],
    ['no URL', { baseUrl: undefined }],
    ['a URL of another scheme', { baseUrl: 'ftp://x' }],
    ['a bad back-off', { backoff: { initialMs: -5 } }],
    ['a bad open timeout', { openTimeoutMs: 0 }]
  ]
  for (const [what, patch] of cases) {
    t.throws(() => watchJob({ ...base, WebSocket, ...patch } as unknown as WatchOptions), { name: 'WatchError', code: 'INVALID_OPTIONS' }, what)
  }
})

t.test('no WebSocket given and none global: NO_WEBSOCKET, naming the fix', async t => {
  const g = globalThis as { WebSocket?: unknown }
  const saved = g.WebSocket
  delete g.WebSocket
  t.teardown(() => { if (saved !== undefined) g.WebSocket = saved })
  t.throws(() => watchJob(base), { name: 'WatchError', code: 'NO_WEBSOCKET', message: /pass one/ })
})

t.test('the global WebSocket is the default, as in a browser', async t => {
  const server = fakeServer('browser')
  const g = globalThis as { WebSocket?: unknown }
  const saved = g.WebSocket
  g.WebSocket = server.WebSocket
  t.teardown(() => { if (saved === undefined) delete g.WebSocket; else g.WebSocket = saved })
  const watch = watchJob(base)
  t.equal((await server.socket(1)).token, 't')
  watch.close()
})
