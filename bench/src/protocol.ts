/** Messages between the bench orchestrator (run.ts) and its load-generator workers (loadgen.ts). */

export type ToWorker =
  | { type: 'connect', urls: string[], headers: Record<string, string> }
  | { type: 'reset' }
  | { type: 'report' }
  | { type: 'close' }

export type FromWorker =
  | { type: 'connected', connected: number, failed: number, errors: Record<string, number>, elapsedMs: number, connectTimes: string }
  | { type: 'reset', cpuSeconds: number }
  | { type: 'report', received: number, unexpectedCloses: number, open: number, latency: string, worstBySecond: Record<string, number>, cpuSeconds: number, rssBytes: number }
  | { type: 'closed' }
