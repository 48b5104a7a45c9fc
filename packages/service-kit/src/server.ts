/**
 * Runs a built app as a process: listen, and close gracefully on SIGTERM
 * or SIGINT (close-with-grace), failing /ready first.
 */
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'

export interface RunOptions {
  host: string
  port: number
  /** Milliseconds the drain may take before the process exits anyway. */
  graceMs?: number
}

export async function runServer (app: FastifyInstance, options: RunOptions): Promise<void> {
  closeWithGrace({ delay: options.graceMs ?? 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    app.readiness.draining = true
    await app.close()
  })
  await app.listen({ host: options.host, port: options.port })
}
