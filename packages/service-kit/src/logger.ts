import { createRequire } from 'node:module'
import type { FastifyBaseLogger, FastifyServerOptions, FastifyRequest } from 'fastify'

const require = createRequire(import.meta.url)

/** The path of a URL without its query string, which may hold a token. */
export function pathOnly (url: string): string {
  const i = url.indexOf('?')
  return i === -1 ? url : url.slice(0, i)
}

/**
 * pino options: JSON lines, pretty only on a TTY, and never a token: the
 * request serializer drops the query string and the headers that carry one.
 */
export function loggerOptions (level: string, service: string): FastifyServerOptions['logger'] {
  return {
    level,
    base: { service },
    ...(process.stdout.isTTY && process.env.NODE_ENV !== 'production'
      // The service's name leads each line: `pnpm start` interleaves two services on one terminal.
      ? { transport: { target: require.resolve('pino-pretty'), options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', messageFormat: '{service}: {msg}' } } }
      : {}),
    redact: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'req.query.token'],
    serializers: {
      req (request: FastifyRequest | { method?: string, url?: string }) {
        return { method: request.method, url: pathOnly(request.url ?? '') }
      }
    }
  }
}

/**
 * A child logger made on first use: most live connections never log, and
 * making a pino child (serializing its bindings) for each would cost every
 * handshake.
 */
export function lazyChild (parent: FastifyBaseLogger, bindings: Record<string, unknown>): () => FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined
  return () => (child ??= parent.child(bindings))
}

/** Whether `logger` writes debug lines, to skip building what they would say. */
export function logsDebug (logger: FastifyBaseLogger): boolean {
  return logger.level === 'debug' || logger.level === 'trace'
}
