/**
 * The Python worker example (examples/python/publish_job.py, pika) against
 * a real training service: what it publishes passes the service's schema
 * and moves the job to its end on a live socket, and it prints a line per
 * event it published and a summary. Needs a python3 with pika
 * and jsonschema (PYTHON, default Debian's /usr/bin/python3; .ci/run
 * installs python3-pika and python3-jsonschema).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  LiveClient, deleteKeys, deleteTopology, liveUrl, metricValue, mintToken, startService, testTopology, uniqueId
} from '@training-live/test-kit'

const run = promisify(execFile)
const script = fileURLToPath(new URL('../../../examples/python/publish_job.py', import.meta.url))
const python = process.env.PYTHON ?? '/usr/bin/python3'

const topology = testTopology('python')
const training = await startService('training', { env: topology.env })
t.teardown(async () => {
  await training.stop()
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

async function publishJob (tenantId: string, jobId: string, ...args: string[]): Promise<{ code: number, stdout: string }> {
  try {
    const { stdout } = await run(python, [script, tenantId, jobId, ...args], { env: { ...process.env, AMQP_URL: topology.env.AMQP_URL, AMQP_EXCHANGE: topology.exchange } })
    return { code: 0, stdout }
  } catch (err) {
    const e = err as { code?: number, stdout?: string }
    if (e.code !== 1) throw err
    return { code: e.code, stdout: e.stdout ?? '' }
  }
}

const STARTED = ['training.started', 'training.progress', 'training.product.completed', 'training.product.completed']

for (const [name, args, expected] of [
  ['a completed job', ['--products', '4'], {
    status: 'completed',
    progresses: [0, 20, 35, 50, 65, 80, 100],
    code: 0,
    types: [...STARTED, 'training.product.completed', 'training.product.completed', 'training.completed'],
    summary: /^7 events published for (\S+): the job completed$/
  }],
  ['a failed job', ['--products', '4', '--fail'], {
    status: 'failed',
    progresses: [0, 20, 35, 50, 50],
    code: 1,
    types: [...STARTED, 'training.failed'],
    summary: /^5 events published for (\S+): the job failed \(--fail\): product_3: out of memory$/
  }]
] as const) {
  t.test(`Python worker: ${name}`, async t => {
    const tenantId = uniqueId('tenant')
    const jobId = uniqueId('job')
    const client = new LiveClient(liveUrl(training.wsUrl, tenantId, jobId, { token: await mintToken({ tenantId }) }))
    t.teardown(() => client.close())
    await client.waitFor(m => m.length === 1, 10_000, 'the snapshot')
    const { code, stdout } = await publishJob(tenantId, jobId, ...args)
    t.equal(code, expected.code, 'exit code')
    // What it published, a line per event, then the summary.
    const lines = stdout.trimEnd().split('\n')
    const published = lines.slice(0, -1).map(line => /^published (\S+) +(\S+)\/(\S+) {2}event_id=([0-9a-f-]{36})$/.exec(line))
    t.ok(published.every(m => m !== null), `a line per event:\n${stdout}`)
    t.same(published.map(m => m?.[1]), expected.types, 'each event\'s type, in order')
    t.ok(published.every(m => m?.[2] === tenantId && m[3] === jobId), 'each with its tenant and job')
    t.equal(new Set(published.map(m => m?.[4])).size, expected.types.length, 'each with an event id of its own')
    t.equal(expected.summary.exec(lines.at(-1) ?? '')?.[1], `${tenantId}/${jobId}`, 'then the summary')
    await client.waitFor(m => m.at(-1)?.type === expected.status, 20_000, `the job ${expected.status}`)
    await client.closedPromise
    t.same(client.events.map(m => m.progress), expected.progresses, 'every event applied, in order')
    t.equal(client.events.at(-1)?.type, expected.status)
    t.equal(client.closed?.code, 1000)
  })
}

t.test('nothing the Python worker sent was dead-lettered', async t => {
  t.equal(await metricValue(training, 'training_events_dead_lettered_total'), 0)
})

t.test('an invalid event is refused before it is sent', async t => {
  const { stderr } = await run(python, ['-c', `
import sys; sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../../examples/python/', import.meta.url)))})
from publish_job import Publisher
p = Publisher("amqp://guest:guest@127.0.0.1:5672/", ${JSON.stringify(topology.exchange)})
try:
    p.publish("training.started", "t", "j", {"total_products": -1})
except ValueError as e:
    print(e, file=sys.stderr)
`])
  t.match(stderr, /invalid training.started event: .*-1/)
})
