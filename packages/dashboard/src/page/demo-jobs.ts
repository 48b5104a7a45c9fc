/**
 * In the demo, the page polls the dev server for the jobs its simulator
 * started, once a second: simple, and a restarted dev server is simply
 * picked up again.
 */
import type { DemoJob } from '../demo/job-list.ts'

export function pollDemoJobs (tenantId: string, onJobs: (jobs: DemoJob[]) => void, intervalMs = 1000): void {
  const poll = async (): Promise<void> => {
    try {
      const res = await fetch(`/demo/jobs?tenant=${encodeURIComponent(tenantId)}`, { cache: 'no-store' })
      if (res.ok) onJobs((await res.json() as { jobs: DemoJob[] }).jobs)
    } catch {
      // The dev server is away; the next poll tries again.
    }
    setTimeout(() => { void poll() }, intervalMs)
  }
  void poll()
}
