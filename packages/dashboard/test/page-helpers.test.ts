/**
 * The page's pure parts: its address, the wording of times and states, the
 * overall connection, and the demo token cache.
 */
import t from 'tap'
import { parseConfig, withJobs } from '../src/page/config.ts'
import { overallConnection, overallText, worthAnnouncing } from '../src/page/connection.ts'
import { connectionShown, connectionText, formatElapsed, isoDuration, productsText, secondsLeft } from '../src/page/format.ts'
import { demoTokenSource } from '../src/page/tokens.ts'

t.test('the address: tenant, jobs, gateway and the hash token', async t => {
  const c = parseConfig('http://127.0.0.1:5173/?tenant=t1&jobs=a,%20b,a,bad!,c&gateway=ws://gateway.test:9000/#token=abc', null)
  t.same(c, { tenantId: 't1', jobIds: ['a', 'b', 'c'], rejectedJobIds: ['bad!'], gateway: 'ws://gateway.test:9000', demo: false, hashToken: 'abc' })

  const plain = parseConfig('https://dash.example.com/', null)
  t.equal(plain.tenantId, null, 'no tenant: the page asks for one')
  t.equal(plain.gateway, 'wss://dash.example.com:8000', 'the page\'s host, the gateway\'s port, wss under https')
  t.equal(plain.hashToken, null)

  const demo = parseConfig('http://127.0.0.1:5173/', JSON.stringify({ gateway: 'ws://127.0.0.1:8123', tenantId: 'tenant_demo' }))
  t.match(demo, { tenantId: 'tenant_demo', gateway: 'ws://127.0.0.1:8123', demo: true }, 'the demo server\'s defaults')
  t.equal(parseConfig('http://h/?tenant=t2&gateway=ws://g:1', JSON.stringify({ gateway: 'ws://x:2', tenantId: 'd' })).gateway, 'ws://g:1', 'the address wins')
  t.equal(parseConfig('http://h/?tenant=t2&gateway=javascript:alert(1)', null).gateway, 'ws://h:8000', 'only ws: and wss: gateways')
  t.equal(parseConfig('http://h/?tenant=no%20spaces', null).tenantId, null, 'an invalid tenant is no tenant')
  t.equal(parseConfig('http://h/', 'not json').demo, false, 'a broken meta tag is no demo')
})

t.test('withJobs keeps the address readable and drops an empty list', async t => {
  t.equal(withJobs('http://h/?tenant=t&jobs=x#token=1', ['a', 'b:c']), 'http://h/?tenant=t&jobs=a,b%3Ac#token=1')
  t.equal(withJobs('http://h/?tenant=t&jobs=x', []), 'http://h/?tenant=t')
})

t.test('durations, products and connections in words', async t => {
  t.equal(formatElapsed(0), '0:00')
  t.equal(formatElapsed(42_900), '0:42')
  t.equal(formatElapsed(725_000), '12:05')
  t.equal(formatElapsed(3_723_000), '1:02:03')
  t.equal(formatElapsed(-5), '0:00')
  t.equal(isoDuration(3_723_000), 'PT1H2M3S')
  t.equal(isoDuration(5_000), 'PT5S')
  t.equal(productsText(3, 12), '3 / 12')
  t.equal(productsText(0, null), '0 / ?')
  t.equal(connectionShown('open', 'running'), 'live')
  t.equal(connectionShown('closed', 'completed'), 'closed', 'a finished job\'s socket closes on purpose')
  t.equal(connectionShown('closed', 'running'), 'offline', 'a running job\'s does not')
  t.equal(connectionShown('reconnecting', 'pending'), 'reconnecting')
  t.equal(connectionShown('connecting', 'pending'), 'connecting')
})

t.test('the overall connection: the worst of the jobs still running', async t => {
  t.equal(overallConnection([]), 'idle')
  t.equal(overallConnection(['closed', 'closed']), 'idle', 'finished jobs do not count')
  t.equal(overallConnection(['live', 'connecting']), 'live', 'a job just added does not make the page look down')
  t.equal(overallConnection(['connecting']), 'connecting')
  t.equal(overallConnection(['live', 'reconnecting', 'offline']), 'reconnecting')
  t.equal(overallConnection(['live', 'offline']), 'offline')
  t.equal(overallConnection(['live'], false), 'offline', 'the browser offline')
  t.equal(overallConnection(['live', 'reconnecting', 'unreachable', 'offline']), 'unreachable', 'a job that cannot get through is the worst news')
  t.ok(worthAnnouncing('reconnecting', 'unreachable'))
  t.ok(worthAnnouncing('live', 'reconnecting'))
  t.ok(worthAnnouncing('reconnecting', 'live'))
  t.notOk(worthAnnouncing('idle', 'live'), 'jobs coming and going are not announced')
  t.notOk(worthAnnouncing('live', 'idle'))
})

t.test('demo tokens: one request for many connects, a new one near expiry', async t => {
  let now = 1_000_000
  const requests: string[] = []
  const fetchStub = (async (url: string) => {
    requests.push(url)
    return new Response(JSON.stringify({ token: `tok${requests.length}`, expires_at: now / 1000 + 300 }))
  }) as typeof fetch
  const getToken = demoTokenSource('tenant x', fetchStub, () => now)
  t.same(await Promise.all([getToken(), getToken(), getToken()]), ['tok1', 'tok1', 'tok1'])
  t.same(requests, ['/demo/token?tenant=tenant%20x'])
  now += 250_000
  t.equal(await getToken(), 'tok1', 'still well before expiry')
  now += 30_000
  t.equal(await getToken(), 'tok2', 'renewed within 30 s of expiry')

  const refusing = demoTokenSource('t', (async () => new Response('{}', { status: 500 })) as typeof fetch)
  await t.rejects(refusing(), /refused a token \(500\)/)
})

t.test('retries in words: whole seconds, the unit and the dot bound to what they belong to', async t => {
  const nbsp = '\u00a0'
  t.equal(secondsLeft(3200), `4${nbsp}s`, 'rounded up')
  t.equal(secondsLeft(10), `1${nbsp}s`, 'never 0 while a retry is ahead')
  t.equal(connectionText('unreachable', 3200), `Offline${nbsp}· retrying in 4${nbsp}s`)
  t.equal(connectionText('unreachable', 0), `Offline${nbsp}· retrying now`, 'due: the attempt is under way')
  t.equal(connectionText('reconnecting', 1500), `Reconnecting in 2${nbsp}s`)
  t.equal(connectionText('reconnecting', null), 'Reconnecting…')
  t.equal(connectionText('live', null), 'Live')
  t.equal(connectionText('connecting', 500), 'Connecting…')
  t.equal(overallText('unreachable', 4000), `Can't reach the server${nbsp}· retrying in 4${nbsp}s`)
  t.equal(overallText('unreachable', -20), `Can't reach the server${nbsp}· retrying now`)
  t.equal(overallText('unreachable', null), 'Can\'t reach the server')
  t.equal(overallText('reconnecting', 900), `Reconnecting in 1${nbsp}s`)
  t.equal(overallText('reconnecting', 0), 'Reconnecting…')
  t.equal(overallText('live', 900), 'Live')
})
