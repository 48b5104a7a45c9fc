/** Doubling from `minMs` to `maxMs`, each delay somewhere in its upper half (so retries spread out). */
export function retryDelay (attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** attempt) * (0.5 + Math.random() / 2)
}
