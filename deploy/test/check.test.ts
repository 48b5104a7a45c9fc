/**
 * The deployment check passes on the project's files and fails, naming the
 * place, on each kind of breakage: a broken copy of the files is made per
 * case in a temporary folder, the originals are never touched.
 */
import t from 'tap'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkDeployment, type CheckInput } from '../src/check.ts'
import { exportedMetricNames } from '../src/exported-metrics.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const exportedMetrics = await exportedMetricNames()

/** A copy of every deployment file under a new folder, laid out as in the project. */
async function copyFiles (): Promise<{ dir: string, input: CheckInput }> {
  const dir = await mkdtemp(join(tmpdir(), 'deploy-check-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const part of ['k8s', 'prometheus', 'grafana']) await cp(join(root, 'deploy', part), join(dir, 'deploy', part), { recursive: true })
  for (const file of ['docker-compose.yml', '.env.example']) await cp(join(root, file), join(dir, file))
  // What the compose file builds and mounts must exist beside it.
  for (const file of ['services/training/Dockerfile', 'services/gateway/Dockerfile', 'packages/simulator/Dockerfile', 'deploy/compose']) {
    await cp(join(root, file), join(dir, file), { recursive: true })
  }
  return { dir, input: inputFor(dir) }
}

function inputFor (dir: string): CheckInput {
  return {
    dockerfiles: [
      { file: join(dir, 'services/training/Dockerfile'), service: true },
      { file: join(dir, 'services/gateway/Dockerfile'), service: true },
      { file: join(dir, 'packages/simulator/Dockerfile'), service: false }
    ],
    compose: { file: join(dir, 'docker-compose.yml'), envFile: join(dir, '.env.example') },
    kustomizations: ['base', 'overlays/production', 'overlays/dev'].map(k => join(dir, 'deploy/k8s', k)),
    prometheusRule: join(dir, 'deploy/prometheus/prometheus-rule.yaml'),
    rulesTest: join(dir, 'deploy/prometheus/alerts.test.yaml'),
    dashboard: join(dir, 'deploy/grafana/training-live.json'),
    exportedMetrics
  }
}

async function edit (file: string, from: string | RegExp, to: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  const next = text.replace(from, to)
  if (next === text) throw new Error(`${String(from)} not found in ${file}`)
  await writeFile(file, next)
}

function messages (report: { problems: Array<{ file: string, where: string, message: string }> }): string[] {
  return report.problems.map(p => `${p.where} ${p.message}`)
}

t.test('the project\'s deployment files pass', async t => {
  const report = await checkDeployment(inputFor(root))
  t.same(report.problems, [], 'no problems')
  t.ok(report.notes.some(n => /SUCCESS: \d+ rules found/.test(n)), 'promtool checked the rules')
  t.ok(report.notes.some(n => /queries name \d+ metrics/.test(n)))
})

t.test('compose: a wrong type, an unknown key, a bad duration and a dangling depends_on', async t => {
  const { dir, input } = await copyFiles()
  const file = join(dir, 'docker-compose.yml')
  await edit(file, /replicas: .*/, 'replicas: three')
  await edit(file, /\n {4}healthcheck:\n/, '\n    helthcheck: {}\n    healthcheck:\n')
  await edit(file, /interval: \S+/, 'interval: 10')
  await edit(file, /depends_on:\n(\s+)(\w+):/, 'depends_on:\n$1nowhere:')
  const report = await checkDeployment(input)
  const m = messages(report)
  t.ok(m.some(s => /\/deploy\/replicas must be integer/.test(s)), 'replicas: three')
  t.ok(m.some(s => /must NOT have additional properties: helthcheck/.test(s)), 'misspelt key')
  t.ok(m.some(s => /\/healthcheck\/interval must match format "duration"/.test(s)), 'interval without a unit')
  t.same(report.problems.filter(p => p.file !== 'docker-compose.yml' && !p.file.endsWith('docker-compose.yml')), [], 'only the compose file is blamed')
  // Schema errors stop the check before references; a schema-valid file with a dangling reference:
  await cp(join(root, 'docker-compose.yml'), file)
  await edit(file, /depends_on:\n(\s+)(\w+):/, 'depends_on:\n$1nowhere:')
  t.ok(messages(await checkDeployment(input)).some(s => /depends_on no service named nowhere/.test(s)), 'dangling depends_on')
})

t.test('Dockerfiles: root user, shell-form start, no health check, one stage, a lowercase instruction', async t => {
  const { dir, input } = await copyFiles()
  const training = join(dir, 'services/training/Dockerfile')
  await edit(training, /^USER node$/m, '')
  await edit(training, /^CMD \[.*$/m, 'CMD node --import tsx src/server.ts')
  await edit(training, /^HEALTHCHECK [^\n]*\\\n[^\n]*\n/m, '')
  const gateway = join(dir, 'services/gateway/Dockerfile')
  await edit(gateway, /^FROM \$\{NODE_IMAGE\} AS build[\s\S]*?^FROM /m, 'FROM ')
  await edit(gateway, /^EXPOSE/m, 'expose')
  const m = (await checkDeployment(input)).problems.filter(p => p.file.endsWith('Dockerfile')).map(p => `${p.file} ${p.where} ${p.message}`)
  t.ok(m.some(s => /training\/Dockerfile final stage runs as root/.test(s)), 'root')
  t.ok(m.some(s => /training\/Dockerfile final stage must start node in exec form .*not node --import/.test(s)), 'shell form')
  t.ok(m.some(s => /training\/Dockerfile final stage no HEALTHCHECK/.test(s)), 'no health check')
  t.ok(m.some(s => /gateway\/Dockerfile {2}not multi-stage/.test(s)), 'one stage')
  t.ok(m.some(s => /gateway\/Dockerfile line \d+ .*uppercase/i.test(s)), 'dockerfile-utils: instruction casing')
  t.notOk(m.some(s => /simulator/.test(s)), 'the untouched Dockerfile passes')
})

t.test('compose: a variable the .env example does not set', async t => {
  const { dir, input } = await copyFiles()
  // eslint-disable-next-line no-template-curly-in-string -- Compose syntax
  await edit(join(dir, 'docker-compose.yml'), /image: /, 'image: ${UNDOCUMENTED_TAG}')
  t.ok(messages(await checkDeployment(input)).some(s => /uses \$\{UNDOCUMENTED_TAG\} with no default/.test(s)))
})

t.test('kubernetes: a port as a string, a misspelt field, a dangling HPA and a short grace period', async t => {
  const { dir, input } = await copyFiles()
  const deployment = join(dir, 'deploy/k8s/base/training/deployment.yaml')
  await edit(deployment, /containerPort: 8001/, 'containerPort: "8001"')
  // On the other Deployment: one that fails its schema is not compiled against the types as well.
  await edit(join(dir, 'deploy/k8s/base/gateway/deployment.yaml'), /readinessProbe:/, 'readinessProbes:')
  await edit(deployment, /terminationGracePeriodSeconds: \d+/, 'terminationGracePeriodSeconds: 5')
  await edit(join(dir, 'deploy/k8s/base/gateway/hpa.yaml'), /\n {4}name: gateway\n/, '\n    name: gateways\n')
  const report = await checkDeployment(input)
  const m = messages(report)
  t.ok(m.some(s => /^Deployment\/training .*containerPort must be integer/.test(s)), 'schema: containerPort')
  t.ok(m.some(s => /^Deployment\/gateway spec\.template\.spec\.containers\[0\]\.readinessProbes: .*'"readinessProbes"' does not exist/.test(s)), 'types: unknown field, with its path')
  t.ok(m.some(s => /^HorizontalPodAutoscaler\/gateway scaleTargetRef Deployment\/gateways does not exist/.test(s)), 'references: HPA target')
  t.ok(m.some(s => /^Deployment\/training terminationGracePeriodSeconds 5 does not exceed/.test(s)), 'references: grace period')
  t.ok(report.problems.every(p => p.file.includes('k8s')), 'only manifests are blamed')
})

t.test('kubernetes: a kustomization that does not build', async t => {
  const { dir, input } = await copyFiles()
  await edit(join(dir, 'deploy/k8s/base/kustomization.yaml'), /training\/service.yaml/, 'training/missing.yaml')
  const m = messages(await checkDeployment(input))
  t.ok(m.some(s => /kustomize build failed: .*missing\.yaml/.test(s)))
})

t.test('alerts: PromQL that does not parse, and a metric nobody exports', async t => {
  const { dir, input } = await copyFiles()
  const rules = join(dir, 'deploy/prometheus/prometheus-rule.yaml')
  await edit(rules, 'expr: max(training_queue_messages) > 10000', 'expr: max(training_queue_messages > 10000')
  let m = messages(await checkDeployment(input))
  t.ok(m.some(s => /promtool check rules alerts.yaml failed/.test(s)), 'promtool refuses the rule file')
  t.ok(m.some(s => /TrainingLiveConsumerLag PromQL syntax error/.test(s)), 'the expression is named')
  await cp(join(root, 'deploy/prometheus/prometheus-rule.yaml'), rules)
  await edit(rules, 'expr: max(training_queue_messages) > 10000', 'expr: max(training_queue_depth) > 10000')
  m = messages(await checkDeployment(input))
  t.ok(m.some(s => /TrainingLiveConsumerLag training_queue_depth is not a metric the services export/.test(s)))
  t.ok(m.some(s => /promtool test rules .* failed/.test(s)), 'and its unit test no longer sees it fire')
})

t.test('dashboard: a panel on a metric nobody exports, and JSON that does not parse', async t => {
  const { dir, input } = await copyFiles()
  const dashboard = join(dir, 'deploy/grafana/training-live.json')
  await edit(dashboard, 'sum(gateway_live_connections)', 'sum(gateway_clients)')
  t.ok(messages(await checkDeployment(input)).some(s => /panel "Live clients \(gateways\)" gateway_clients is not a metric the services export/.test(s)))
  await writeFile(dashboard, '{ "panels": [')
  t.ok(messages(await checkDeployment(input)).some(s => /JSON/.test(s)))
})
