/** Each retry's reason in words: what the watcher prints and a page can show while the watch cannot get through. */
import t from 'tap'
import { describeRetryReason, formatSeconds } from '../src/retry-reason.ts'
import { retryLine } from '../src/cli/retry-line.ts'
import type { RetryInfo, RetryReason } from '../src/job-watch.ts'
import { fakeServer } from './helpers/fake-socket.ts'
import { startWatch } from './helpers/watch.ts'

t.test('network failures by Node\'s error code; none (a browser) is "cannot connect"', async t => {
  const unreachable = (errorCode?: string): string => describeRetryReason({ kind: 'unreachable', code: 1006, ...(errorCode === undefined ? {} : { errorCode }) })
  t.equal(unreachable('ECONNREFUSED'), 'connection refused')
  t.equal(unreachable('ENOTFOUND'), 'host not found')
  t.equal(unreachable('ETIMEDOUT'), 'timed out')
  t.equal(unreachable('ECONNRESET'), 'connection reset')
  t.equal(unreachable('EHOSTUNREACH'), 'host unreachable')
  t.equal(unreachable('CERT_HAS_EXPIRED'), 'TLS certificate expired')
  t.equal(unreachable('EPROTO'), 'cannot connect (EPROTO)', 'a code without words of its own is named')
  t.equal(unreachable(), 'cannot connect')
})

t.test('refusals, closes, timeouts, tokens and sockets', async t => {
  const cases: Array<[RetryReason, string]> = [
    [{ kind: 'refused', status: 503, serverCode: 'GATEWAY_UPSTREAM_UNAVAILABLE', retryAfterMs: 2000 }, 'HTTP 503 GATEWAY_UPSTREAM_UNAVAILABLE (Retry-After 2 s)'],
    [{ kind: 'refused', status: 503, retryAfterMs: 1500 }, 'HTTP 503 (Retry-After 1.5 s)'],
    [{ kind: 'refused', status: 502 }, 'HTTP 502'],
    [{ kind: 'refused', status: 0 }, 'an HTTP response without a status'],
    [{ kind: 'close', code: 1011, reason: 'upstream lost' }, 'closed 1011 upstream lost'],
    [{ kind: 'close', code: 1006, reason: '' }, 'closed 1006 (connection lost)'],
    [{ kind: 'close', code: 4999, reason: '' }, 'closed 4999'],
    [{ kind: 'timeout' }, 'timed out'],
    [{ kind: 'token', error: new Error('token service down') }, 'getToken failed: token service down'],
    [{ kind: 'token', error: 'nope' }, 'getToken failed: nope'],
    [{ kind: 'socket', error: new SyntaxError('bad subprotocol') }, 'cannot open a WebSocket: bad subprotocol']
  ]
  for (const [reason, words] of cases) t.equal(describeRetryReason(reason), words)
})

t.test('seconds for people', async t => {
  t.equal(formatSeconds(2000), '2 s')
  t.equal(formatSeconds(237), '0.2 s')
  t.equal(formatSeconds(1500), '1.5 s')
  t.equal(formatSeconds(12_345), '12 s')
  t.equal(formatSeconds(0), '0 s')
})

t.test('the watcher\'s line, by what went wrong', async t => {
  const info = (reason: RetryReason, delayMs: number): RetryInfo => ({ attempt: 1, delayMs, reason, message: describeRetryReason(reason) })
  const url = 'ws://127.0.0.1:8000'
  t.equal(retryLine(url, info({ kind: 'unreachable', code: 1006, errorCode: 'ECONNREFUSED' }, 2000)), 'cannot reach ws://127.0.0.1:8000: connection refused; retrying in 2 s')
  t.equal(retryLine(url, info({ kind: 'timeout' }, 400)), 'cannot reach ws://127.0.0.1:8000: timed out; retrying in 0.4 s')
  t.equal(retryLine(url, info({ kind: 'refused', status: 401 }, 0)), 'ws://127.0.0.1:8000 refused the connection: HTTP 401; retrying now')
  t.equal(retryLine(url, info({ kind: 'close', code: 1011, reason: 'upstream lost' }, 800)), 'lost the connection to ws://127.0.0.1:8000: closed 1011 upstream lost; reconnecting in 0.8 s')
  t.equal(retryLine(url, info({ kind: 'token', error: new Error('down') }, 1000)), 'getToken failed: down; retrying in 1 s')
})

t.test('the error code behind a failed socket reaches the retry: ws\'s own, or as a cause; a browser\'s event has none', async t => {
  const server = fakeServer('browser')
  const r = startWatch(server)
  const first = await server.socket(1)
  first.dispatch('error', { error: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) })
  first.serverClose(1006)
  const second = await server.socket(2)
  second.dispatch('error', { error: new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } }) })
  second.serverClose(1006)
  ;(await server.socket(3)).serverClose(1006)
  await server.socket(4)
  t.match(r.retries, [
    { reason: { kind: 'unreachable', code: 1006, errorCode: 'ECONNREFUSED' }, message: 'connection refused' },
    { reason: { kind: 'unreachable', errorCode: 'ENOTFOUND' }, message: 'host not found' },
    { reason: { kind: 'unreachable', code: 1006 }, message: 'cannot connect' }
  ])
  t.notOk('errorCode' in (r.retries[2]?.reason ?? {}))
  r.watch.close()
})
