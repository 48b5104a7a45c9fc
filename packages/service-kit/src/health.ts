import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'

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

async function health (fastify: FastifyInstance, options: { metricsPrefix: string }) {
  const checks: ReadinessCheck[] = []
  const readiness = { add: (c: ReadinessCheck) => { checks.push(c) }, draining: false }
  fastify.decorate('readiness', readiness)

  // Readiness is evaluated on every /ready (the orchestrator's probe, every few seconds) and every
  // scrape; counting the changes seen there catches a flapping dependency between two scrapes.
  const registers = [fastify.metrics]
  const transitions = new Counter({
    name: `${options.metricsPrefix}_ready_transitions_total`,
    help: 'Changes of readiness (ready to not ready or back) seen by /ready and by scrapes.',
    registers
  })
  let last: boolean | null = null
  async function evaluate (): Promise<{ ready: boolean, results: Record<string, boolean> }> {
    const results: Record<string, boolean> = {}
    await Promise.all(checks.map(async c => {
      try { results[c.name] = await c.check() } catch { results[c.name] = false }
    }))
    const ready = !readiness.draining && Object.values(results).every(Boolean)
    if (last !== null && last !== ready) transitions.inc()
    last = ready
    return { ready, results }
  }
  // eslint-disable-next-line no-new -- registered on the app's registry, read at scrape time
  new Gauge({
    name: `${options.metricsPrefix}_ready`,
    help: '1 when /ready answers 200 (dependencies connected, not draining).',
    registers,
    async collect () { this.set((await evaluate()).ready ? 1 : 0) }
  })

  fastify.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }))

  fastify.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const { ready, results } = await evaluate()
    reply.code(ready ? 200 : 503)
    return { status: ready ? 'ready' : (readiness.draining ? 'draining' : 'not_ready'), checks: results }
  })
}

export const healthPlugin = fp(health, { name: 'training-live-health', dependencies: ['training-live-metrics'] })
