/**
 * Every refusal of the contract at the gateway's handshake (§3), through a
 * real gateway process and real sockets: the status and the JSON code, no
 * upgrade, and no request ever reaching the training service. Then the three
 * token carriers end to end, and no token in the gateway's output.
 */
import t from 'tap'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { ClientOptions } from 'ws'
import { LINK_PATH } from '@training-live/service-kit'
import {
  LiveClient, deleteKeys, deleteTopology, liveUrl, mintToken, startService, testTopology, uniqueId, unsignedToken,
  type ServiceProcess
} from '@training-live/test-kit'

/** A stand-in for the training service that records every connection and request it gets. */
interface Recorder {
  server: Server
  url: string
  requests: string[]
}

async function startRecorder (): Promise<Recorder> {
  const server = createServer()
  const recorder: Recorder = { server, url: '', requests: [] }
  server.on('request', (req, res) => {
    recorder.requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
    res.writeHead(500).end()
  })
  server.on('upgrade', (req, socket) => {
    recorder.requests.push(`UPGRADE ${req.url ?? ''}`)
    socket.destroy()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  recorder.url = `http://127.0.0.1:${port}`
  return recorder
}

const recorder = await startRecorder()
const topology = testTopology('gw_auth')
const processes: ServiceProcess[] = []
const clients: LiveClient[] = []
/** Every token sent to a gateway, to check that none appears in its output. */
const tokensUsed: string[] = []

t.teardown(async () => {
  for (const c of clients) c.close()
  await Promise.all(processes.map(p => p.stop()))
  recorder.server.closeAllConnections()
  await new Promise(resolve => recorder.server.close(resolve))
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

/** Generous: the machine may be busy with other test files' processes. */
const START_TIMEOUT_MS = 60_000
// A gateway in front of the recorder. Waiting only for /health: /ready would ask the recorder.
const refusing = await startService('gateway', { env: { TRAINING_URLS: recorder.url, LOG_LEVEL: 'trace' }, waitFor: 'health', timeoutMs: START_TIMEOUT_MS })
processes.push(refusing)
// A gateway in front of a real training service.
const training = await startService('training', { env: topology.env, timeoutMs: START_TIMEOUT_MS })
processes.push(training)
const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url, LOG_LEVEL: 'trace' }, timeoutMs: START_TIMEOUT_MS })
processes.push(gateway)

interface Refusal {
  status: number | undefined
  body: { statusCode?: number, code?: string, message?: string }
}

/** Opens a handshake that must be refused; answers its status and JSON body. */
async function refused (url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<Refusal> {
  const client = new LiveClient(url, options)
  clients.push(client)
  try {
    await client.opened
  } catch (err) {
    const { statusCode, body } = err as { statusCode?: number, body?: string }
    if (statusCode === undefined) throw err
    return { status: statusCode, body: JSON.parse(body ?? '{}') as Refusal['body'] }
  }
  client.close()
  throw new Error(`the handshake to ${url.split('?')[0] ?? ''} was upgraded`)
}

function withToken (tenantId: string, jobId: string, token: string, query: Record<string, string> = {}): string {
  tokensUsed.push(token)
  return liveUrl(refusing.wsUrl, tenantId, jobId, { token, ...query })
}

// Refusals at the handshake, before any upgrade: one tenant and job for all of them.
const tenantId = uniqueId('tenant')
const jobId = uniqueId('job')
const otherSecret = 'another-secret-0123456789abcdef'

t.test('no token -> 401 GATEWAY_TOKEN_MISSING', async t => {
  const r = await refused(liveUrl(refusing.wsUrl, tenantId, jobId))
  t.equal(r.status, 401)
  t.match(r.body, { statusCode: 401, code: 'GATEWAY_TOKEN_MISSING', message: String })
})

t.test('an empty ?token= -> 401 GATEWAY_TOKEN_MISSING', async t => {
  const r = await refused(liveUrl(refusing.wsUrl, tenantId, jobId, { token: '' }))
  t.equal(r.status, 401)
  t.equal(r.body.code, 'GATEWAY_TOKEN_MISSING')
})

t.test('an empty Authorization: Bearer -> 401', async t => {
  for (const header of ['Bearer', 'Bearer ']) {
    const r = await refused(liveUrl(refusing.wsUrl, tenantId, jobId), { headers: { authorization: header } })
    t.equal(r.status, 401, JSON.stringify(header))
    t.equal(r.body.code, 'GATEWAY_TOKEN_MISSING')
  }
})

t.test('malformed tokens -> 401 GATEWAY_TOKEN_INVALID', async t => {
  // 'abc' is too short a string to look for in the output afterwards; the others are checked.
  for (const token of ['abc', 'a.b.c', 'not-a-jwt-9f3kq2', 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln']) {
    const r = await refused(token === 'abc' ? liveUrl(refusing.wsUrl, tenantId, jobId, { token }) : withToken(tenantId, jobId, token))
    t.equal(r.status, 401, token)
    t.equal(r.body.code, 'GATEWAY_TOKEN_INVALID', token)
  }
})

t.test('a token signed with another secret -> 401 GATEWAY_TOKEN_INVALID', async t => {
  const token = await mintToken({ tenantId, secret: otherSecret })
  const r = await refused(withToken(tenantId, jobId, token))
  t.equal(r.status, 401)
  t.equal(r.body.code, 'GATEWAY_TOKEN_INVALID')
})

t.test('an expired token -> 401 GATEWAY_TOKEN_EXPIRED', async t => {
  const token = await mintToken({ tenantId, expiresIn: -60 })
  const r = await refused(withToken(tenantId, jobId, token))
  t.equal(r.status, 401)
  t.equal(r.body.code, 'GATEWAY_TOKEN_EXPIRED')
})

t.test('alg: none -> 401', async t => {
  const token = unsignedToken(tenantId)
  const r = await refused(withToken(tenantId, jobId, token))
  t.equal(r.status, 401)
  t.equal(r.body.code, 'GATEWAY_TOKEN_INVALID')
})

t.test('a missing required claim -> 401', async t => {
  for (const claim of ['sub', 'tenant_id', 'exp'] as const) {
    const token = await mintToken({ tenantId, omit: [claim] })
    const r = await refused(withToken(tenantId, jobId, token))
    t.equal(r.status, 401, `without ${claim}`)
    t.equal(r.body.code, 'GATEWAY_TOKEN_INVALID', `without ${claim}`)
  }
})

t.test('a token for another tenant -> 403 GATEWAY_TENANT_FORBIDDEN', async t => {
  const token = await mintToken({ tenantId: uniqueId('other') })
  const r = await refused(withToken(tenantId, jobId, token))
  t.equal(r.status, 403)
  t.match(r.body, { statusCode: 403, code: 'GATEWAY_TENANT_FORBIDDEN' })
})

t.test('refusals in the header and subprotocol carriers too', async t => {
  const expired = await mintToken({ tenantId, expiresIn: -60 })
  const foreign = await mintToken({ tenantId: uniqueId('other') })
  tokensUsed.push(expired, foreign)
  const url = liveUrl(refusing.wsUrl, tenantId, jobId)
  const a = await refused(url, { headers: { authorization: `Bearer ${expired}` } })
  t.same([a.status, a.body.code], [401, 'GATEWAY_TOKEN_EXPIRED'], 'expired in Authorization')
  const b = await refused(url, { protocols: ['bearer', foreign] })
  t.same([b.status, b.body.code], [403, 'GATEWAY_TENANT_FORBIDDEN'], 'foreign tenant in Sec-WebSocket-Protocol')
})

t.test('invalid path ids -> 400, without upgrade', async t => {
  const token = await mintToken({ tenantId })
  tokensUsed.push(token)
  for (const badJob of ['job with space', 'j'.repeat(200), '-leading-dash', 'job/slash']) {
    const r = await refused(withToken(tenantId, badJob, token))
    t.equal(r.status, 400, `job id ${JSON.stringify(badJob.slice(0, 20))}${badJob.length > 20 ? `… (${badJob.length} chars)` : ''}`)
    t.equal(r.body.statusCode, 400)
  }
})

t.test('a malformed last_id -> 400, without upgrade', async t => {
  const token = await mintToken({ tenantId })
  for (const lastId of ['abc', '1-', '-1', '1-2-3', '1.5-0']) {
    const r = await refused(withToken(tenantId, jobId, token, { last_id: lastId }))
    t.equal(r.status, 400, `last_id ${lastId}`)
    t.equal(r.body.statusCode, 400)
  }
})

t.test('a refused client never reaches the training service', async t => {
  // The gateway's only requests are its attempts to open its link (which the recorder refuses);
  // no session is ever opened for a refused client.
  t.same(recorder.requests.filter(r => r !== `UPGRADE ${LINK_PATH}`), [], 'no request to the training service but the link')
})

t.test('the gateway counts refusals by code', async t => {
  const text = await (await fetch(`${refusing.url}/metrics`)).text()
  for (const code of ['GATEWAY_TOKEN_MISSING', 'GATEWAY_TOKEN_INVALID', 'GATEWAY_TOKEN_EXPIRED', 'GATEWAY_TENANT_FORBIDDEN']) {
    t.match(text, new RegExp(`^gateway_connections_refused_total\\{code="${code}"\\} [1-9]`, 'm'), code)
  }
})

t.test('each token carrier succeeds end to end', async t => {
  const carriers: Array<[string, (token: string, jobId: string) => LiveClient]> = [
    ['?token=', (token, jobId) => new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId, { token }))],
    ['Authorization: Bearer', (token, jobId) => new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId), { headers: { authorization: `Bearer ${token}` } })],
    ['Sec-WebSocket-Protocol', (token, jobId) => new LiveClient(liveUrl(gateway.wsUrl, tenantId, jobId), { protocols: ['bearer', token] })]
  ]
  for (const [name, open] of carriers) {
    t.test(name, async t => {
      const jobId = uniqueId('job')
      const token = await mintToken({ tenantId, sub: uniqueId('user') })
      tokensUsed.push(token)
      const client = open(token, jobId)
      clients.push(client)
      await client.opened
      await client.waitFor(m => m.length >= 1, 10_000, 'snapshot')
      t.match(client.messages[0], {
        type: 'connected',
        job_id: jobId,
        tenant_id: tenantId,
        timestamp: String,
        data: { status: 'pending', progress: 0, products_completed: 0 }
      })
      if (name === 'Sec-WebSocket-Protocol') {
        t.equal(client.socket.protocol, 'bearer', 'the negotiated subprotocol is bearer')
      } else {
        t.equal(client.socket.protocol, '', 'no subprotocol when none was offered')
      }
      t.not(client.socket.protocol, token, 'the token is never echoed as the subprotocol')
      client.socket.close(1000, 'done')
      t.equal((await client.closedPromise).code, 1000)
    })
  }
})

t.test('the gateway never writes a token to its output', async t => {
  const outputs = [refusing, gateway].map(p => p.output())
  t.match(outputs[0], '/api/v1/tenants/', 'the refusing gateway logged its requests (the check is not vacuous)')
  t.match(outputs[1], '/api/v1/tenants/', 'the proxying gateway logged its requests')
  t.ok(tokensUsed.length >= 15, `${tokensUsed.length} tokens checked`)
  for (const [i, out] of outputs.entries()) {
    const leaked = tokensUsed.filter(token => out.includes(token))
    t.same(leaked, [], `gateway ${i + 1}: no token in the output`)
    // The signature part alone must not appear either (e.g. a token split across log fields).
    const signatures = tokensUsed.map(token => token.split('.')[2] ?? '').filter(s => s.length >= 16)
    t.same(signatures.filter(s => out.includes(s)), [], `gateway ${i + 1}: no token signature in the output`)
    t.notOk(out.includes('?token='), `gateway ${i + 1}: no query string with a token`)
    t.notOk(out.includes('token='), `gateway ${i + 1}: no token= at all`)
  }
})
