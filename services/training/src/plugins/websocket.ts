import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { CloseCode } from '@training-live/events'
import { selectProtocol } from '@training-live/service-kit'

/**
 * WebSocket support for every transport (the direct live route and gateways' links). On shutdown
 * every socket is told to reconnect elsewhere (1012) before the server waits for them to close:
 * clients resume with last_id, and a gateway closes each session of its link with the same code.
 */
async function websockets (fastify: FastifyInstance) {
  const c = fastify.config
  await fastify.register(websocket, {
    options: { maxPayload: c.MAX_INBOUND_FRAME_BYTES, handleProtocols: selectProtocol, perMessageDeflate: false },
    preClose (done) {
      for (const socket of this.websocketServer.clients) socket.close(CloseCode.ServiceRestart, 'service restart')
      this.websocketServer.close(() => done())
    }
  })
}

export const websocketPlugin = fp(websockets, { name: 'websocket-transport', dependencies: ['config'] })
