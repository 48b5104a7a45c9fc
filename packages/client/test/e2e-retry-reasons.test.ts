/**
 * Why the watch retries, against real processes: a port nothing listens on
 * refuses the connection (ECONNREFUSED), and a real gateway with no
 * training service to reach refuses the handshake with 503 and Retry-After.
 */
import t from 'tap'
import { freePort, startService, uniqueId, within } from '@training-live/test-kit'
import type { RetryInfo } from '../src/index.ts'
import { recordWatch } from './helpers/stack.ts'

async function firstRetry (baseUrl: string): Promise<RetryInfo> {
  const r = recordWatch({ baseUrl, tenantId: uniqueId('tenant'), jobId: uniqueId('job') })
  try {
    return await within(new Promise<RetryInfo>(resolve => r.watch.once('retry', resolve)), 30_000, 'a retry')
  } finally {
    r.watch.close()
  }
}

t.test('a closed port: "connection refused", from ECONNREFUSED', async t => {
  const port = await freePort()
  const info = await firstRetry(`ws://127.0.0.1:${port}`)
  t.match(info, { attempt: 1, reason: { kind: 'unreachable', code: 1006, errorCode: 'ECONNREFUSED' }, message: 'connection refused' })
})

t.test('a gateway that reaches no training service: HTTP 503 with its code and Retry-After', async t => {
  const nowhere = await freePort()
  // Ready needs an upstream; alive is enough to answer the handshake.
  const gateway = await startService('gateway', { env: { TRAINING_URLS: `http://127.0.0.1:${nowhere}` }, waitFor: 'health' })
  t.teardown(() => gateway.stop())
  const info = await firstRetry(gateway.wsUrl)
  t.match(info, {
    reason: { kind: 'refused', status: 503, serverCode: 'GATEWAY_UPSTREAM_UNAVAILABLE', retryAfterMs: 2000 },
    message: 'HTTP 503 GATEWAY_UPSTREAM_UNAVAILABLE (Retry-After 2 s)'
  })
  // The test's back-off caps any wait at 500 ms, Retry-After included.
  t.equal(info.delayMs, 500)
})
