/**
 * No token and no query string in any answer or log line, in both services:
 * a battery of bad requests (a wrong path, bad ids and last_id, bad tokens, a
 * URL that does not decode, an over-long path segment, oversized headers),
 * each carrying a secret of its own in each token carrier, sent as plain GETs
 * and as WebSocket upgrades to a gateway and straight to a training service,
 * both logging at trace level. Every answer (status line, headers, body) and,
 * once both processes have exited, every line they wrote is searched for
 * every secret. Each request must get its expected status and code and leave
 * a log line, so that a search of nothing cannot pass.
 */
import t from 'tap'
import { once } from 'node:events'
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import {
  deleteKeys, deleteTopology, mintToken, startService, testTopology, uniqueId, within, type ServiceProcess
} from '@training-live/test-kit'
import { GatewayErrors } from '../src/errors.ts'

const topology = testTopology('no_leak')
const START_TIMEOUT_MS = 60_000
const training = await startService('training', { env: { ...topology.env, LOG_LEVEL: 'trace' }, timeoutMs: START_TIMEOUT_MS })
const gateway = await startService('gateway', { env: { TRAINING_URLS: training.url, LOG_LEVEL: 'trace' }, timeoutMs: START_TIMEOUT_MS })
const targets: Array<{ service: ServiceProcess, prefix: string }> = [
  { service: gateway, prefix: 'GATEWAY' },
  { service: training, prefix: 'TRAINING' }
]

t.teardown(async () => {
  await Promise.all([gateway.stop(), training.stop()])
  await deleteTopology(topology)
  await deleteKeys(topology.env.REDIS_KEY_PREFIX as string)
})

interface RawAnswer {
  status: number
  /** The whole answer as received: status line, headers, body. */
  text: string
  body: string
}

/**
 * Sends `request` as written on a fresh connection and reads the answer until
 * it is complete (its Content-Length) or the server closes the connection.
 * Raw, because a client library would refuse or rewrite some of these requests.
 */
async function exchange (port: string, request: string): Promise<RawAnswer> {
  const socket = connect(Number(port), '127.0.0.1')
  socket.on('error', () => {}) // a server that answers and closes mid-request may reset it
  let received = Buffer.alloc(0)
  const complete = (): boolean => {
    const end = received.indexOf('\r\n\r\n')
    if (end === -1) return false
    const length = /^content-length:\s*(\d+)/im.exec(received.subarray(0, end).toString())
    return length !== null && received.length >= end + 4 + Number(length[1])
  }
  const done = new Promise<void>(resolve => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (complete()) resolve()
    })
    socket.once('close', () => resolve())
  })
  socket.write(request)
  try {
    await within(done, 15_000, 'an answer')
  } finally {
    socket.destroy()
  }
  const text = received.toString()
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
  const end = text.indexOf('\r\n\r\n')
  return { status, text, body: end === -1 ? '' : text.slice(end + 4) }
}

const tenantId = uniqueId('tenant')
const otherSecret = 'another-secret-0123456789abcdef'
const livePathOf = (tenant: string, job: string) => `/api/v1/tenants/${tenant}/training/jobs/${job}/live`

/** One bad request: its path (holding `id`, to find its log lines), the token it carries, and what it must get. */
interface Case {
  name: string
  status: number
  code: (prefix: string) => string
  path: (id: string) => string
  token: (id: string) => Promise<string>
  query?: string
  headers?: string[]
  /** Refused by the HTTP parser, before any route: no request line is logged, only a 'client error' line. */
  parserRefusal?: boolean
}

const validToken = () => mintToken({ tenantId, sub: uniqueId('user') })
const garbage = (what: string) => `${what}-${randomBytes(12).toString('hex')}`

const cases: Case[] = [
  {
    name: 'a wrong path',
    status: 404,
    code: p => `${p}_NOT_FOUND`,
    path: id => `/api/v1/tenants/${tenantId}/training/jobs/${id}/nope`,
    token: validToken
  },
  {
    name: 'a bad job id',
    status: 400,
    code: () => 'FST_ERR_VALIDATION',
    path: id => livePathOf(tenantId, `${id}%20bad`),
    token: validToken
  },
  {
    // The token names the same (bad) tenant, so that the check of the id, after the token's, refuses it.
    name: 'a bad tenant id',
    status: 400,
    code: () => 'FST_ERR_VALIDATION',
    path: id => livePathOf(`${id}!`, 'job'),
    token: id => mintToken({ tenantId: `${id}!`, sub: uniqueId('user') })
  },
  {
    name: 'a bad last_id',
    status: 400,
    code: () => 'FST_ERR_VALIDATION',
    path: id => livePathOf(tenantId, id),
    token: validToken,
    query: `last_id=${garbage('last')}`
  },
  {
    name: 'a malformed token',
    status: 401,
    code: p => `${p}_TOKEN_INVALID`,
    path: id => livePathOf(tenantId, id),
    token: async () => `${garbage('not')}.${garbage('a')}.${garbage('jwt')}`
  },
  {
    name: 'an expired token',
    status: 401,
    code: p => `${p}_TOKEN_EXPIRED`,
    path: id => livePathOf(tenantId, id),
    token: () => mintToken({ tenantId, sub: uniqueId('user'), expiresIn: -60 })
  },
  {
    name: 'a token for another tenant',
    status: 403,
    code: p => `${p}_TENANT_FORBIDDEN`,
    path: id => livePathOf(tenantId, id),
    token: () => mintToken({ tenantId: uniqueId('other'), sub: uniqueId('user') })
  },
  {
    name: 'a badly signed token',
    status: 401,
    code: p => `${p}_TOKEN_INVALID`,
    path: id => livePathOf(tenantId, id),
    token: () => mintToken({ tenantId, sub: uniqueId('user'), secret: otherSecret })
  },
  {
    name: 'a path segment that does not percent-decode',
    status: 400,
    code: p => `${p}_BAD_URL`,
    path: id => livePathOf(tenantId, `${id}%zz`),
    token: validToken
  },
  {
    name: 'an over-long path segment',
    status: 414,
    code: p => `${p}_URL_TOO_LONG`,
    path: id => livePathOf(tenantId, `${id}${'j'.repeat(600)}`),
    token: validToken
  },
  {
    // After the carrier's header, so that the parser has read the token when it gives up.
    name: 'oversized headers',
    status: 431,
    code: p => `${p}_HEADERS_TOO_LARGE`,
    path: id => livePathOf(tenantId, id),
    token: validToken,
    headers: [`X-Padding: ${'a'.repeat(20_000)}`],
    parserRefusal: true
  }
]

type Carrier = 'query' | 'authorization' | 'subprotocol'
const carriers: Carrier[] = ['query', 'authorization', 'subprotocol']
const UPGRADE_HEADERS = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13']

/** A request sent, with what it carried that must never come back or be logged. */
interface Sent {
  target: string
  id: string
  what: string
  secrets: string[]
  parserRefusal: boolean
}
const sent: Sent[] = []

/** The forms a secret could be written in: as sent, percent-encoded, and as a Buffer serialized by pino (`[72,101,…]`). */
function formsOf (secret: string): string[] {
  const forms = [secret, encodeURIComponent(secret), [...Buffer.from(secret)].join(',')]
  // A JWT's signature alone, should the token be split into fields.
  const signature = secret.split('.')[2]
  if (signature !== undefined && signature.length >= 16) forms.push(signature)
  return forms
}

function leaksIn (text: string, secrets: string[]): string[] {
  return secrets.filter(secret => formsOf(secret).some(form => text.includes(form)))
}

for (const { service, prefix } of targets) {
  for (const mode of ['plain GET', 'WebSocket upgrade'] as const) {
    t.test(`${service.name}, ${mode}: each bad request is refused as expected and its answer quotes nothing it carried`, async t => {
      for (const c of cases) {
        for (const carrier of carriers) {
          const id = uniqueId('req')
          const token = await c.token(id)
          // A query parameter of its own in every request, whatever the carrier: no query string may come back or be logged.
          const probe = garbage('probe')
          const query = [`probe=${probe}`, ...(c.query !== undefined ? [c.query] : []), ...(carrier === 'query' ? [`token=${token}`] : [])].join('&')
          const headers = [
            'Host: 127.0.0.1',
            ...(carrier === 'authorization' ? [`Authorization: Bearer ${token}`] : []),
            ...(carrier === 'subprotocol' ? [`Sec-WebSocket-Protocol: bearer, ${token}`] : []),
            ...(mode === 'WebSocket upgrade' ? UPGRADE_HEADERS : ['Connection: close']),
            ...(c.headers ?? [])
          ]
          const what = `${c.name}, token in ${carrier}`
          const secrets = [token, probe, query, ...(c.query !== undefined ? [c.query] : [])]
          sent.push({ target: service.name, id, what: `${mode}: ${what}`, secrets, parserRefusal: c.parserRefusal === true })
          const answer = await exchange(service.port, `GET ${c.path(id)}?${query} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`)
          t.equal(answer.status, c.status, `${what}: status`)
          let code: unknown
          try { code = (JSON.parse(answer.body) as { code?: unknown }).code } catch {}
          t.equal(code, c.code(prefix), `${what}: code`)
          t.same(leaksIn(answer.text, secrets), [], `${what}: nothing it carried is in the answer`)
          t.notMatch(answer.text, /token=|probe=/i, `${what}: no query string in the answer`)
        }
      }
    })
  }
}

t.test('every code the gateway answers with is in docs/protocol.md', async t => {
  const doc = await readFile(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')
  for (const E of Object.values(GatewayErrors)) {
    const { code } = new E()
    t.ok(doc.includes(`\`${code}\``), code)
  }
})

t.test('neither process wrote a token or a query string, and both logged every request', async t => {
  // Exited and their pipes closed: every line they wrote is in hand.
  await Promise.all([gateway, training].map(async p => {
    const closed = once(p.child, 'close')
    await p.stop()
    await closed
  }))
  t.equal(sent.length, targets.length * 2 * cases.length * carriers.length, `${sent.length} requests sent`)
  const allSecrets = sent.flatMap(s => s.secrets)
  for (const p of [gateway, training]) {
    const output = p.output()
    const mine = sent.filter(s => s.target === p.name)
    // Not vacuous: each routed request's line (its path, which holds its id) is there; the parser's refusals leave a line each.
    const unlogged = mine.filter(s => !s.parserRefusal && !output.includes(s.id)).map(s => s.what)
    t.same(unlogged, [], `${p.name}: a log line for each routed request`)
    const overflows = output.split('\n').filter(line => line.includes('"msg":"client error"') && line.includes('HPE_HEADER_OVERFLOW')).length
    t.ok(overflows >= mine.filter(s => s.parserRefusal).length, `${p.name}: a log line for each request the parser refused (${overflows})`)

    const leaked = leaksIn(output, allSecrets)
    t.same(leaked.slice(0, 5), [], `${p.name}: no secret in the output (${leaked.length} leaked)`)
    t.notMatch(output, /token=|probe=|last_id=/i, `${p.name}: no query string in the output`)
  }
})
