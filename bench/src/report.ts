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
  lines.push('', '| scenario | process | RSS idle MB | RSS connected MB | RSS end MB | KB per client (training via gateways: per link session) | CPU s |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of run.results) {
    for (const p of r.processes) {
      const kind = p.name.replace(/ \d+$/, '')
      const kb = p.name === 'load generator' ? '' : String(r.kbPerConnection[kind] ?? '')
      lines.push(`| ${r.scenario.name} | ${p.name} | ${p.rssIdleMB || ''} | ${p.rssConnectedMB} | ${p.rssEndMB} | ${kb} | ${p.cpuSeconds} |`)
    }
  }

  // The targets (of the one-link-per-replica issue), where the run has what they compare: 1-5 at 10,000 clients, 6 at 50,000 over 1,000 jobs (`--scale`).
  const find = (target: string, jobs: number, mode: string, clients: number) =>
    run.results.find(r => r.scenario.target === target && r.scenario.jobs === jobs && r.scenario.mode === mode && r.scenario.clients === clients)
  const targets: string[] = []
  for (const jobs of [...new Set(run.results.filter(r => r.scenario.clients === 10_000).map(r => r.scenario.jobs))]) {
    const bare = find('bare', jobs, 'steady', 10_000)
    const gateway = find('gateway', jobs, 'steady', 10_000)
    const direct = find('direct', jobs, 'steady', 10_000)
    if (bare !== undefined && gateway !== undefined) {
      const ratio = gateway.latency.p99 / bare.latency.p99
      targets.push(`| 1. steady ${jobs} jobs: p99 through gateways / bare p99 | ≤ 2 and ≤ 50 ms, all delivered | ${fixed(ratio, 2)} (${gateway.latency.p99} / ${bare.latency.p99} ms); delivered ${pct(gateway.delivered, gateway.expected)} | ${ratio <= 2 && gateway.latency.p99 <= 50 && gateway.delivered === gateway.expected ? 'met' : 'missed'} |`)
    }
    const bareBurst = find('bare', jobs, 'burst', 10_000)
    const gatewayBurst = find('gateway', jobs, 'burst', 10_000)
    if (bareBurst !== undefined && gatewayBurst !== undefined) {
      const ratio = gatewayBurst.deliveriesPerSecond / bareBurst.deliveriesPerSecond
      targets.push(`| 2. burst ${jobs} jobs: deliveries/s / bare | ≥ 0.8, all delivered | ${fixed(ratio, 2)} (${gatewayBurst.deliveriesPerSecond} / ${bareBurst.deliveriesPerSecond}); delivered ${pct(gatewayBurst.delivered, gatewayBurst.expected)} | ${ratio >= 0.8 && gatewayBurst.delivered === gatewayBurst.expected ? 'met' : 'missed'} |`)
    }
    if (gateway !== undefined) {
      const training = gateway.kbPerConnection.training ?? NaN
      const gw = gateway.kbPerConnection.gateway ?? NaN
      targets.push(`| 3. memory, ${jobs} jobs: training per link session, gateway per client | ≤ 1 KB training, ≤ 8 KB gateway | ${fixed(training)} KB training (${gateway.linkSessions} sessions), ${fixed(gw)} KB gateway | ${training <= 1 && gw <= 8 ? 'met' : 'missed'} |`)
    }
    if (gateway !== undefined && direct !== undefined) {
      const added = gateway.latency.p50 - direct.latency.p50
      targets.push(`| 4. gateway's added p50, ${jobs} jobs | ≤ 1 ms | ${fixed(added, 2)} ms (${gateway.latency.p50} vs ${direct.latency.p50} ms direct) | ${added <= 1 ? 'met' : 'missed'} |`)
    }
    if (gateway !== undefined) {
      targets.push(`| 5. connect 10,000 clients through gateways, ${jobs} jobs | ≤ 5 s | ${gateway.connect.seconds} s (${gateway.connect.connected} connected) | ${gateway.connect.seconds <= 5 && gateway.connect.failed === 0 ? 'met' : 'missed'} |`)
    }
  }
  for (const r of run.results.filter(r => r.scenario.target === 'gateway' && r.scenario.clients === 50_000 && r.scenario.jobs === 1000 && r.scenario.mode === 'steady')) {
    targets.push(`| 6. ${r.scenario.clients} clients, ${r.scenario.jobs} jobs, ${r.scenario.gateways} gateways, ${r.scenario.rate} events/s | all delivered, p99 ≤ 100 ms | p99 ${r.latency.p99} ms; delivered ${pct(r.delivered, r.expected)}; connected ${r.connect.connected} in ${r.connect.seconds} s | ${r.delivered === r.expected && r.latency.p99 <= 100 ? 'met' : 'missed'} |`)
  }
  if (targets.length > 0) lines.push('', '| target | bound | this run | |', '| --- | --- | --- | --- |', ...targets)
  return lines.join('\n') + '\n'
}
