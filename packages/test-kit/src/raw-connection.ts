import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

export interface RawConnection {
  socket: Socket
  /** Milliseconds from connect until the server closed the socket. */
  closedAfter: Promise<number>
  received: () => string
}

/** A raw TCP connection to a local port, for handshake-level tests; destroy `socket` in teardown. */
export async function rawConnection (port: string | number): Promise<RawConnection> {
  const socket = connect(Number(port), '127.0.0.1')
  let received = ''
  socket.on('data', (d: Buffer) => { received += d.toString() })
  // A write to a socket the server closed may raise EPIPE; the close is what tests wait for.
  socket.on('error', () => {})
  await once(socket, 'connect')
  const start = Date.now()
  const closedAfter = new Promise<number>(resolve => socket.once('close', () => resolve(Date.now() - start)))
  return { socket, closedAfter, received: () => received }
}
