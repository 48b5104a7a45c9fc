/**
 * Answers to requests no route takes: no such route, a URL the router
 * cannot decode, a request the HTTP parser refuses. fastify's defaults quote
 * the URL, query string included, in the answer and the log ("Route
 * GET:/x?token=… not found", "'/x?token=…' is not a valid url component"),
 * and log the raw bytes of a refused request; a token in the URL or a
 * header would be written back to the client and to the logs. These quote
 * nothing the client sent.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { RequestErrors } from './errors.ts'

/** The JSON body of a refusal, as the live route's refusals have it. */
interface ErrorAnswer {
  statusCode: number
  code: string
  error: string
  message: string
}

function errorAnswer (err: { statusCode: number, code: string, message: string }): ErrorAnswer {
  return { statusCode: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode] ?? 'Error', message: err.message }
}

/** The service's own error standing for a framework error; never the framework error itself, whose message may quote the URL. */
function ownError (err: { code?: string, statusCode?: number }, errors: RequestErrors) {
  switch (err.code) {
    case 'FST_ERR_BAD_URL': return new errors.BadUrl()
    case 'FST_ERR_MAX_PARAM_LENGTH': return new errors.UrlTooLong()
  }
  const status = err.statusCode ?? 500
  if (status === 404) return new errors.NotFound()
  if (status >= 400 && status < 500) return new errors.BadRequest()
  return new errors.InternalError()
}

/** The answer to a request the HTTP parser refused or that was not received in time. */
function clientErrorOf (err: { code?: string }, errors: RequestErrors) {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new errors.RequestTimeout()
  if (err.code === 'HPE_HEADER_OVERFLOW') return new errors.HeadersTooLarge()
  return new errors.BadRequest()
}

/**
 * Options for `Fastify()`: `frameworkErrors` for URLs the router refuses
 * (400 for bad percent-encoding, 414 for an over-long path segment), and
 * `clientErrorHandler` for requests the HTTP parser refuses (431 for
 * oversized headers, 408 for a request not sent in time, 400 otherwise).
 */
export function requestErrorOptions (errors: RequestErrors): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  return {
    frameworkErrors (err: { code?: string, statusCode?: number }, request: FastifyRequest, reply: FastifyReply) {
      const own = ownError(err, errors)
      // The code only: the error's message and stack quote the URL.
      request.log.info({ code: err.code, statusCode: own.statusCode }, 'malformed URL refused')
      void reply.code(own.statusCode).send(errorAnswer(own))
    },
    clientErrorHandler: function (this: { log: FastifyBaseLogger }, err: Error & { code?: string }, socket: Socket) {
      // As fastify's default: a reset or destroyed socket has nobody to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      const own = clientErrorOf(err, errors)
      // Not `err`: its rawPacket is the request as received, token and all.
      this.log.debug({ code: err.code, statusCode: own.statusCode }, 'client error')
      if (socket.writable) {
        const body = JSON.stringify(errorAnswer(own))
        socket.write(`HTTP/1.1 ${own.statusCode} ${STATUS_CODES[own.statusCode] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      }
      socket.destroy(err)
    }
  }
}

/** No such route: 404 with the service's code. Unlike fastify's default, neither answer nor log line quotes the URL; the incoming-request line gives its path. */
async function notFound (fastify: FastifyInstance, options: { errors: RequestErrors }) {
  const answer = errorAnswer(new options.errors.NotFound())
  fastify.setNotFoundHandler(async (request, reply) => {
    request.log.info('no such route')
    return reply.code(404).send(answer)
  })
}

export const notFoundPlugin = fp(notFound, { name: 'training-live-not-found' })
