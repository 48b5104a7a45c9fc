/**
 * The run's publish order and pace. All jobs of a batch train at once: the
 * order is a uniformly random interleaving of their event lists, each job's
 * own order kept, so jobs start staggered, end at different times and their
 * products complete between other jobs' events. Events are spread evenly at
 * `rate` per second over the whole batch, whatever the number of jobs.
 */
import { shuffle, type Random } from './random.ts'

/** Job index of each event in publish order; the n-th occurrence of job j is j's n-th event. */
export function interleave (lengths: readonly number[], random: Random): number[] {
  const order = lengths.flatMap((length, job) => Array.from({ length }, () => job))
  // Shuffling the job labels gives every interleaving the same chance.
  return shuffle(order, random)
}

/** When the event at `position` (0-based) is due, in milliseconds after the batch starts. */
export function dueAtMs (position: number, rate: number): number {
  return (position * 1000) / rate
}
