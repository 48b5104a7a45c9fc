import t from 'tap'
import { DEFAULT_BACKOFF, backoffCap, backoffDelay, resolveBackoff, retryAfterMs } from '../src/backoff.ts'

t.test('defaults: 500 ms doubling up to 30 s', async t => {
  t.strictSame(resolveBackoff(), { initialMs: 500, maxMs: 30_000, factor: 2 })
  t.strictSame(resolveBackoff({ initialMs: 50 }), { initialMs: 50, maxMs: 30_000, factor: 2 })
  t.equal(DEFAULT_BACKOFF.initialMs, 500)
})

t.test('out-of-range options are refused', async t => {
  for (const bad of [{ initialMs: 0 }, { initialMs: -1 }, { initialMs: Infinity }, { initialMs: Number.NaN },
    { maxMs: 100, initialMs: 200 }, { maxMs: Infinity }, { factor: 0.5 }, { factor: Number.NaN }]) {
    t.throws(() => resolveBackoff(bad), { name: 'WatchError', code: 'INVALID_OPTIONS' }, JSON.stringify(bad))
  }
})

t.test('the cap grows by the factor from initialMs and stops at maxMs', async t => {
  const b = resolveBackoff()
  t.strictSame([0, 1, 2, 3, 4, 5, 6, 7, 20, 2000].map(n => backoffCap(n, b)), [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000])
  t.strictSame([0, 1, 2, 3].map(n => backoffCap(n, { initialMs: 100, maxMs: 1000, factor: 3 })), [100, 300, 900, 1000])
  t.strictSame([0, 5].map(n => backoffCap(n, { initialMs: 100, maxMs: 1000, factor: 1 })), [100, 100], 'factor 1: constant')
})

t.test('full jitter: anywhere from 0 to just under the cap', async t => {
  const b = resolveBackoff()
  t.equal(backoffDelay(3, b, () => 0), 0)
  t.equal(backoffDelay(3, b, () => 0.5), 2000)
  t.equal(backoffDelay(3, b, () => 0.999999), 3999)
  // With the real random source: every delay within bounds, and spread over the whole range.
  for (const attempt of [0, 2, 6, 12]) {
    const cap = backoffCap(attempt, b)
    const delays = Array.from({ length: 2000 }, () => backoffDelay(attempt, b))
    t.ok(delays.every(d => Number.isInteger(d) && d >= 0 && d < cap), `attempt ${attempt}: 0 <= delay < ${cap}`)
    t.ok(Math.min(...delays) < cap * 0.05, `attempt ${attempt}: some delays near 0`)
    t.ok(Math.max(...delays) > cap * 0.95, `attempt ${attempt}: some near the cap`)
    const mean = delays.reduce((a, d) => a + d, 0) / delays.length
    t.ok(Math.abs(mean - cap / 2) < cap * 0.05, `attempt ${attempt}: mean ${Math.round(mean)} about half the cap`)
  }
})

t.test('Retry-After: seconds or an HTTP date', async t => {
  const now = Date.parse('2025-10-08T12:00:00.000Z')
  t.equal(retryAfterMs(undefined, now), undefined)
  t.equal(retryAfterMs('5', now), 5000)
  t.equal(retryAfterMs(' 30 ', now), 30_000)
  t.equal(retryAfterMs('0', now), 0)
  t.equal(retryAfterMs('Wed, 08 Oct 2025 12:00:07 GMT', now), 7000)
  t.equal(retryAfterMs('Wed, 08 Oct 2025 11:00:00 GMT', now), 0, 'a date past is now')
  t.equal(retryAfterMs('soon', now), undefined)
  t.equal(retryAfterMs('-3', now), undefined)
  t.ok((retryAfterMs(new Date(Date.now() + 60_000).toUTCString()) as number) > 55_000, 'relative to the clock by default')
})
