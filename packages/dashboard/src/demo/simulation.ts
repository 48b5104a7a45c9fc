/**
 * The demo's workers: simulator batches one after another until stopped, each
 * job's start and end recorded in the demo job list once the broker confirmed
 * them, so the page can pick the job up. Stopping fails the jobs under way
 * (the simulator's own rule), so no watcher is left waiting.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPublisher } from '@training-live/events/publisher'
import { simulate, type SimulationSettings } from '@training-live/simulator'
import type { DemoJobList } from './job-list.ts'

export interface DemoSimulationOptions extends Partial<Omit<SimulationSettings, 'seed' | 'jobIdPrefix'>> {
  url?: string
  exchange?: string
  /** A pause between batches, so finished jobs stay on screen a moment before the next start. */
  pauseMs?: number
  signal: AbortSignal
  jobList: DemoJobList
  onBatch?: (summary: { batch: number, completed: number, failed: number, stopped: number }) => void
}

export async function runDemoSimulation (options: DemoSimulationOptions): Promise<void> {
  const { url, exchange, pauseMs = 3000, signal, jobList, onBatch, ...settings } = options
  const run = randomBytes(2).toString('hex')
  const publisher = await createPublisher({ url, exchange })
  try {
    for (let batch = 1; !signal.aborted; batch++) {
      const summary = await simulate({
        ...settings,
        // Job ids unique to this run and batch: `training_<run>-<batch>_<n>`.
        jobIdPrefix: `training_${run}-${batch}`,
        publisher,
        signal,
        onEvent: event => jobList.record(event)
      })
      onBatch?.({ batch, completed: summary.completed, failed: summary.failed, stopped: summary.stopped })
      await sleep(pauseMs, undefined, { signal }).catch(() => {})
    }
  } finally {
    await publisher.close()
  }
}
