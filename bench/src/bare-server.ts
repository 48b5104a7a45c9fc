/**
 * The floor: a bare `ws` server that broadcasts each message to the sockets
 * watching its job, with nothing else (no broker, no Redis, no auth). Clients
 * connect to /jobs/<job>; the bench publishes on /publish, one frame per
 * message: `<job>\n<message>`. Run as a process: PORT from the environment.
 */
import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

const HELLO = Buffer.from('{"type":"connected"}')
const jobs = new Map<string, Set<WebSocket>>()

const server = createServer((_req, res) => { res.writeHead(404).end() })
const wss = new WebSocketServer({ server, perMessageDeflate: false })

wss.on('connection', (socket, request) => {
  const path = request.url ?? ''
  if (path === '/publish') {
    socket.on('message', (data: Buffer) => {
      const newline = data.indexOf(10)
      const watchers = jobs.get(data.toString('latin1', 0, newline))
      if (watchers === undefined) return
      // Framed once per socket by ws; the payload buffer is shared, as a real broadcast would.
      const payload = data.subarray(newline + 1)
      for (const w of watchers) w.send(payload, { binary: false })
    })
    return
  }
  const job = path.startsWith('/jobs/') ? path.slice('/jobs/'.length) : ''
  let watchers = jobs.get(job)
  if (watchers === undefined) { watchers = new Set(); jobs.set(job, watchers) }
  watchers.add(socket)
  socket.on('close', () => watchers.delete(socket))
  socket.on('error', () => {})
  socket.send(HELLO)
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : ''}\n`)
})
process.on('SIGTERM', () => process.exit(0))
