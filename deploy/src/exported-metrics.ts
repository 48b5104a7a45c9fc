/** The metric names the services really export, read from their /metrics. */
import { deleteTopology, startService, testTopology, type ServiceProcess } from '@training-live/test-kit'

/** Names in a Prometheus text exposition, with the series names a histogram or summary adds. */
export function namesInExposition (text: string): Set<string> {
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (m === null) continue
    const name = m[1] as string
    names.add(name)
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
    if (m[2] === 'summary') for (const s of ['_sum', '_count']) names.add(name + s)
  }
  return names
}

/** Series Prometheus itself makes for every target or alert; queries may name them. */
export const PROMETHEUS_SERIES = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped'])

/**
 * Starts the training service and a gateway in front of it (on the local RabbitMQ and Redis, with a
 * queue of their own) and reads both /metrics. prom-client lists every registered metric, with or
 * without samples, so nothing needs to happen first.
 */
export async function exportedMetricNames (): Promise<Set<string>> {
  const topology = testTopology('deploy-check')
  const processes: ServiceProcess[] = []
  try {
    const training = await startService('training', { env: topology.env })
    processes.push(training)
    processes.push(await startService('gateway', { env: { TRAINING_URLS: training.url } }))
    const names = new Set<string>()
    for (const p of processes) for (const n of namesInExposition(await (await fetch(`${p.url}/metrics`)).text())) names.add(n)
    return names
  } finally {
    await Promise.all(processes.map(p => p.stop()))
    await deleteTopology(topology)
  }
}
