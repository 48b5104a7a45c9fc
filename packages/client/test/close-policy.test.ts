import t from 'tap'
import { afterClose, afterRefusal } from '../src/close-policy.ts'

t.test('close codes of an open socket, as in docs/protocol.md', async t => {
  t.strictSame(afterClose(1000), { kind: 'end' }, '1000: the job finished')
  t.strictSame(afterClose(4001), { kind: 'retry', delay: 'now' }, '4001: a fresh token, at once')
  t.strictSame(afterClose(1008), { kind: 'give-up', code: 'POLICY' }, '1008: would happen again')
  t.strictSame(afterClose(1009), { kind: 'give-up', code: 'POLICY' }, '1009: would happen again')
  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 1014, 4000]) {
    t.strictSame(afterClose(code), { kind: 'retry', delay: 'backoff' }, `${code}: back-off`)
  }
})

t.test('statuses of a refused handshake', async t => {
  t.strictSame(afterRefusal(401, undefined, false), { kind: 'retry', delay: 'now' }, 'a first 401: a fresh token, at once')
  t.strictSame(afterRefusal(401, undefined, true), { kind: 'give-up', code: 'AUTH' }, 'a second 401 in a row')
  t.strictSame(afterRefusal(403, undefined, false), { kind: 'give-up', code: 'FORBIDDEN' })
  t.strictSame(afterRefusal(400, undefined, false), { kind: 'give-up', code: 'BAD_REQUEST' })
  t.strictSame(afterRefusal(503, 5000, false), { kind: 'retry', delay: 5000 }, '503: after Retry-After')
  t.strictSame(afterRefusal(429, 30_000, true), { kind: 'retry', delay: 30_000 }, '429: after Retry-After')
  t.strictSame(afterRefusal(503, undefined, false), { kind: 'retry', delay: 'backoff' }, 'no Retry-After: back-off')
  for (const status of [404, 500, 502, 504, 0]) t.strictSame(afterRefusal(status, 1000, false), { kind: 'retry', delay: 'backoff' }, `${status}: back-off`)
})
