/**
 * The demo plugin on a real Vite dev server: tokens the services accept, the
 * job list per tenant, and the meta tag that puts the page in demo mode.
 */
import t from 'tap'
import { jwtVerify } from 'jose'
import { TEST_SECRET } from '@training-live/test-kit'
import { startDashboardServer } from '../src/demo/dev-server.ts'
import { DemoJobList } from '../src/demo/job-list.ts'

const jobs = new DemoJobList(3)
const dashboard = await startDashboardServer({ port: 0, demo: { jobs, gateway: 'ws://127.0.0.1:8999', secret: TEST_SECRET, tokenTtlSeconds: 120 } })
t.teardown(() => dashboard.close())

const get = async (path: string): Promise<{ status: number, body: Record<string, unknown>, cache: string | null }> => {
  const res = await fetch(`${dashboard.origin}${path}`)
  return { status: res.status, body: await res.json() as Record<string, unknown>, cache: res.headers.get('cache-control') }
}

t.test('GET /demo/token mints a short-lived HS256 token for the tenant', async t => {
  const { status, body, cache } = await get('/demo/token?tenant=tenant_a')
  t.equal(status, 200)
  t.equal(cache, 'no-store')
  const { payload, protectedHeader } = await jwtVerify(body.token as string, new TextEncoder().encode(TEST_SECRET), { algorithms: ['HS256'] })
  t.equal(protectedHeader.alg, 'HS256')
  t.equal(payload.tenant_id, 'tenant_a')
  t.type(payload.sub, 'string')
  const ttl = (payload.exp as number) - Math.floor(Date.now() / 1000)
  t.ok(ttl > 100 && ttl <= 120, `expires in the ttl given (${ttl} s)`)
  t.equal(body.expires_at, payload.exp)

  t.equal((await get('/demo/token')).status, 400, 'a tenant is required')
  t.equal((await get('/demo/token?tenant=no%20spaces')).status, 400, 'and must be a valid id')
})

t.test('GET /demo/jobs lists the jobs started, per tenant, the newest kept', async t => {
  t.same((await get('/demo/jobs')).body, { jobs: [] })
  const at = new Date().toISOString()
  for (const [tenant, job] of [['a', '1'], ['b', '2'], ['a', '3'], ['a', '3'], ['a', '4']]) jobs.add({ tenant_id: tenant as string, job_id: job as string, started_at: at })
  t.same((await get('/demo/jobs?tenant=a')).body, { jobs: [{ tenant_id: 'a', job_id: '3', started_at: at }, { tenant_id: 'a', job_id: '4', started_at: at }] },
    'a repeat is ignored, and only the newest 3 are kept')
  t.equal(((await get('/demo/jobs')).body.jobs as unknown[]).length, 3)
  t.equal((await get('/demo/nothing')).status, 404)
})

t.test('the list takes a job\'s start and end from the simulator\'s events', async t => {
  const list = new DemoJobList()
  const event = (type: string, timestamp: string) => ({ event_id: timestamp, tenant_id: 't', job_id: 'j', type, timestamp, data: {} }) as never
  list.record(event('training.progress', '2025-01-01T00:00:00.000Z'))
  t.same(list.list(), [], 'a job joins with its start')
  list.record(event('training.started', '2025-01-01T00:00:01.000Z'))
  list.record(event('training.product.completed', '2025-01-01T00:00:02.000Z'))
  list.record(event('training.failed', '2025-01-01T00:00:03.000Z'))
  list.record(event('training.completed', '2025-01-01T00:00:04.000Z'))
  t.same(list.list('t'), [{ tenant_id: 't', job_id: 'j', started_at: '2025-01-01T00:00:01.000Z', finished_at: '2025-01-01T00:00:03.000Z' }])
})

t.test('the page is told it runs in demo mode, and where the gateway is', async t => {
  const html = await (await fetch(`${dashboard.origin}/`)).text()
  t.match(html, '<meta name="training-live-demo" content="{&quot;gateway&quot;:&quot;ws://127.0.0.1:8999&quot;,&quot;tenantId&quot;:&quot;tenant_demo&quot;}">')
})
