import t from 'tap'
import { DEFAULT_URL, parseWatchArgs } from '../src/cli/args.ts'

t.test('tenant and job, with the gateway and token options', async t => {
  t.strictSame(parseWatchArgs(['t1', 'j1'], {}), { tenantId: 't1', jobId: 'j1', url: DEFAULT_URL, help: false })
  t.strictSame(parseWatchArgs(['--', 't1', 'j1', '--url', 'wss://gw', '--token', 'abc'], {}),
    { tenantId: 't1', jobId: 'j1', url: 'wss://gw', token: 'abc', help: false }, 'the -- pnpm hands on is skipped')
  t.equal(parseWatchArgs(['t1', 'j1'], { GATEWAY_URL: 'ws://10.0.0.1:8000' }).url, 'ws://10.0.0.1:8000', 'GATEWAY_URL')
  t.equal(parseWatchArgs(['t1', 'j1'], { GATEWAY_URL: '' }).url, DEFAULT_URL, 'an empty GATEWAY_URL is unset')
  t.equal(parseWatchArgs(['--url=ws://x', 't1', 'j1'], { GATEWAY_URL: 'ws://y' }).url, 'ws://x', '--url wins')
  t.match(parseWatchArgs(['--help'], {}), { help: true })
})

t.test('bad arguments: a UsageError that says what is wrong', async t => {
  t.throws(() => parseWatchArgs([], {}), { name: 'UsageError', message: /got 0 arguments/ })
  t.throws(() => parseWatchArgs(['t1'], {}), { message: /got 1 argument$/ })
  t.throws(() => parseWatchArgs(['a', 'b', 'c'], {}), { message: /got 3 arguments/ })
  t.throws(() => parseWatchArgs(['t1', 'j1', '--nope'], {}), { name: 'UsageError', message: /--nope/ })
  t.throws(() => parseWatchArgs(['t1', 'j1', '--url'], {}), { name: 'UsageError', message: /--url/ })
  t.throws(() => parseWatchArgs(['t1', 'j1', '--token', ''], {}), { name: 'UsageError', message: /--token must not be empty/ })
})
