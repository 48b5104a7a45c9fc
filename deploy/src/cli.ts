/**
 * pnpm deploy:check — validates the deployment files (see check.ts) and
 * exits non-zero on any problem. Needs kubectl, promtool, and the local
 * RabbitMQ and Redis (the services are started to read their /metrics).
 */
import { fileURLToPath } from 'node:url'
import { checkDeployment } from './check.ts'
import { exportedMetricNames } from './exported-metrics.ts'
import { formatProblems } from './problem.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const deploy = `${root}deploy/`
process.chdir(root)

const report = await checkDeployment({
  dockerfiles: [
    { file: `${root}services/training/Dockerfile`, service: true },
    { file: `${root}services/gateway/Dockerfile`, service: true },
    { file: `${root}packages/simulator/Dockerfile`, service: false }
  ],
  compose: { file: `${root}docker-compose.yml`, envFile: `${root}.env.example` },
  kustomizations: [`${deploy}k8s/base`, `${deploy}k8s/overlays/production`, `${deploy}k8s/overlays/dev`],
  prometheusRule: `${deploy}prometheus/prometheus-rule.yaml`,
  rulesTest: `${deploy}prometheus/alerts.test.yaml`,
  dashboard: `${deploy}grafana/training-live.json`,
  exportedMetrics: await exportedMetricNames()
})
for (const note of report.notes) console.log(`checked ${note}`)
if (report.problems.length > 0) {
  console.error(`\n${report.problems.length} problem(s):\n${formatProblems(report.problems)}`)
  process.exit(1)
}
console.log('deployment files: valid')
