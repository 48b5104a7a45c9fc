/** The markdown report of a bench run: each scenario, then the targets as ratios to the bare-ws floor of the same run. */
import type { Machine } from './machine.ts'
import type { ScenarioResult } from './run.ts'

interface Run { when: string, command: string, machine: Machine, results: ScenarioResult[] }

const pct = (n: number, of: number) => of === 0 ? '–' : `${(100 * n / of).toFixed(n === of ? 0 : 2)} %`
const fixed = (n: number, digits = 1) => Number.isFinite(n) ? n.toFixed(digits) : '–'

export function report (run: Run): string {
  const m = run.machine
  const lines: string[] = [
    `# Bench run ${run.when}`,
    '',
    `Command: \`${run.command}\` (from the repository root).`,
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}, open-file limit ${m.openFileLimit}.`,
    'Everything (RabbitMQ, Redis, the services, the load generator) on this one machine.',
    '',
    '| scenario | clients | jobs | events | delivered | p50 ms | p90 ms | p99 ms | max ms | deliveries/s | connect s | connect p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of run.results) {
    const s = r.scenario
    lines.push(`| ${s.name} | ${s.clients} | ${s.jobs} | ${r.published} | ${r.delivered} / ${r.expected} (${pct(r.delivered, r.expected)}) | ` +
      `${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.max} | ${r.deliveriesPerSecond} | ${r.connect.seconds} | ${r.connect.perClient.p99} |`)
  }
  lines.push('', '| scenario | process | RSS idle MB | RSS connected MB | RSS end MB | KB per connection | CPU s |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of run.results) {
    for (const p of r.processes) {
      const kind = p.name.replace(/ \d+$/, '')
      const kb = p.name === 'load generator' ? '' : String(r.kbPerConnection[kind] ?? '')
      lines.push(`| ${r.scenario.name} | ${p.name} | ${p.rssIdleMB || ''} | ${p.rssConnectedMB} | ${p.rssEndMB} | ${kb} | ${p.cpuSeconds} |`)
    }
  }

  // The targets, where the run has what they compare.
  const find = (target: string, jobs: number, mode: string) =>
    run.results.find(r => r.scenario.target === target && r.scenario.jobs === jobs && r.scenario.mode === mode)
  const targets: string[] = []
  for (const jobs of [...new Set(run.results.map(r => r.scenario.jobs))]) {
    const bare = find('bare', jobs, 'steady')
    const gateway = find('gateway', jobs, 'steady')
    const direct = find('direct', jobs, 'steady')
    if (bare !== undefined && gateway !== undefined) {
      const ratio = gateway.latency.p99 / bare.latency.p99
      targets.push(`| 1. steady ${jobs} jobs: p99 through gateways / bare p99 | ≤ 2 and ≤ 100 ms | ${fixed(ratio, 2)} (${gateway.latency.p99} / ${bare.latency.p99} ms); delivered ${pct(gateway.delivered, gateway.expected)} | ${ratio <= 2 && gateway.latency.p99 <= 100 && gateway.delivered === gateway.expected ? 'met' : 'missed'} |`)
    }
    if (gateway !== undefined && direct !== undefined) {
      const added = gateway.latency.p50 - direct.latency.p50
      targets.push(`| 5. gateway's added p50, ${jobs} jobs | ≤ 1 ms | ${fixed(added, 2)} ms (${gateway.latency.p50} vs ${direct.latency.p50} ms direct) | ${added <= 1 ? 'met' : 'missed'} |`)
    }
    const bareBurst = find('bare', jobs, 'burst')
    const gatewayBurst = find('gateway', jobs, 'burst')
    if (bareBurst !== undefined && gatewayBurst !== undefined) {
      const ratio = gatewayBurst.deliveriesPerSecond / bareBurst.deliveriesPerSecond
      targets.push(`| 2. burst ${jobs} jobs: deliveries/s / bare | ≥ 0.7, all delivered | ${fixed(ratio, 2)} (${gatewayBurst.deliveriesPerSecond} / ${bareBurst.deliveriesPerSecond}); delivered ${pct(gatewayBurst.delivered, gatewayBurst.expected)} | ${ratio >= 0.7 && gatewayBurst.delivered === gatewayBurst.expected ? 'met' : 'missed'} |`)
    }
    if (gateway !== undefined) {
      const training = gateway.kbPerConnection.training ?? NaN
      const gw = gateway.kbPerConnection.gateway ?? NaN
      targets.push(`| 3. memory per connection, ${jobs} jobs | ≤ 6 KB training, ≤ 12 KB gateway | ${fixed(training)} KB training, ${fixed(gw)} KB gateway | ${training <= 6 && gw <= 12 ? 'met' : 'missed'} |`)
      targets.push(`| 6. connect ${gateway.scenario.clients} clients through gateways, ${jobs} jobs | ≤ 10 s | ${gateway.connect.seconds} s (${gateway.connect.connected} connected) | ${gateway.connect.seconds <= 10 && gateway.connect.failed === 0 ? 'met' : 'missed'} |`)
    }
  }
  if (targets.length > 0) lines.push('', '| target | bound | this run | |', '| --- | --- | --- | --- |', ...targets)
  return lines.join('\n') + '\n'
}
