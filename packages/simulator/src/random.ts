/**
 * A seeded random source: the same seed gives the same jobs, failures and
 * publish order, so a run (or a test) can be replayed exactly.
 */

export const MAX_SEED = 2 ** 32 - 1

/** A number in [0, 1). */
export type Random = () => number

/** mulberry32: tiny, fast and good enough for simulation (not for anything secret). */
export function seededRandom (seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

/** An integer from `min` to `max`, both included. */
export function randomInt (random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

/** Fisher-Yates, in place: every order equally likely. */
export function shuffle<T> (items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i)
    const item = items[i] as T
    items[i] = items[j] as T
    items[j] = item
  }
  return items
}

/** A seed for when none is given; printed in the summary so the run can be replayed. */
export function freshSeed (): number {
  return Math.floor(Math.random() * (MAX_SEED + 1))
}
