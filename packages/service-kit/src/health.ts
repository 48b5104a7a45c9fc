import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** One dependency's readiness: a name and a check that answers quickly. */
export interface ReadinessCheck {
  name: string
  check: () => boolean | Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: {
      add: (check: ReadinessCheck) => void
      /** Set while draining, so that load balancers stop sending new clients first. */
      draining: boolean
    }
  }
}

async function health (fastify: FastifyInstance) {
  const checks: ReadinessCheck[] = []
  const readiness = { add: (c: ReadinessCheck) => { checks.push(c) }, draining: false }
  fastify.decorate('readiness', readiness)

  fastify.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }))

  fastify.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const results: Record<string, boolean> = {}
    await Promise.all(checks.map(async c => {
      try { results[c.name] = await c.check() } catch { results[c.name] = false }
    }))
    const ready = !readiness.draining && Object.values(results).every(Boolean)
    reply.code(ready ? 200 : 503)
    return { status: ready ? 'ready' : (readiness.draining ? 'draining' : 'not_ready'), checks: results }
  })
}

export const healthPlugin = fp(health, { name: 'training-live-health' })
