import t from 'tap'
import { resolveLiveUrl, withLastId } from '../src/live-url.ts'

const ids = { tenantId: 't1', jobId: 'job:1' }
const path = '/api/v1/tenants/t1/training/jobs/job%3A1/live'

function refused (code: string) {
  return { name: 'WatchError', code }
}

t.test('a base URL: the live path appended, http(s) taken as ws(s)', async t => {
  t.equal(resolveLiveUrl({ ...ids, baseUrl: 'ws://127.0.0.1:8000' }), `ws://127.0.0.1:8000${path}`)
  t.equal(resolveLiveUrl({ ...ids, baseUrl: 'wss://live.example.com/' }), `wss://live.example.com${path}`)
  t.equal(resolveLiveUrl({ ...ids, baseUrl: 'http://127.0.0.1:8000' }), `ws://127.0.0.1:8000${path}`)
  t.equal(resolveLiveUrl({ ...ids, baseUrl: 'https://example.com/live-proxy//' }), `wss://example.com/live-proxy${path}`, 'a path prefix stays')
})

t.test('a full live URL is taken as it is, but for the scheme', async t => {
  t.equal(resolveLiveUrl({ ...ids, url: `https://example.com${path}`, baseUrl: 'ws://ignored' }), `wss://example.com${path}`)
  t.equal(resolveLiveUrl({ ...ids, url: `ws://127.0.0.1:8001${path}` }), `ws://127.0.0.1:8001${path}`)
})

t.test('bad or missing URLs', async t => {
  t.throws(() => resolveLiveUrl(ids), refused('INVALID_OPTIONS'))
  t.throws(() => resolveLiveUrl({ ...ids, baseUrl: 'not a url' }), refused('INVALID_OPTIONS'))
  t.throws(() => resolveLiveUrl({ ...ids, baseUrl: 'ftp://example.com' }), refused('INVALID_OPTIONS'))
  t.throws(() => resolveLiveUrl({ ...ids, url: 'file:///etc/passwd' }), refused('INVALID_OPTIONS'))
})

t.test('in a browser, a relative base is the page\'s own host', async t => {
  const g = globalThis as { location?: { href: string } }
  g.location = { href: 'https://dashboard.example.com/jobs?x=1' }
  t.teardown(() => { delete g.location })
  t.equal(resolveLiveUrl({ ...ids, baseUrl: '/' }), `wss://dashboard.example.com${path}`)
  t.equal(resolveLiveUrl({ ...ids, baseUrl: '/gateway' }), `wss://dashboard.example.com/gateway${path}`)
})

t.test('last_id is added when resuming, and replaces one already there', async t => {
  const url = `ws://127.0.0.1:8000${path}`
  t.equal(withLastId(url, undefined), url)
  t.equal(withLastId(url, '1759926896790-0'), `${url}?last_id=1759926896790-0`)
  t.equal(withLastId(`${url}?last_id=1-0&x=y`, '2-0'), `${url}?last_id=2-0&x=y`)
})
