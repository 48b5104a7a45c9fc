/**
 * What the schemas cannot see: that the objects of one build point at each
 * other correctly. A Service, PodDisruptionBudget or NetworkPolicy whose
 * selector matches no pod, an HPA aimed at no Deployment, a probe on a port
 * the container does not name, or a grace period shorter than the drain is
 * valid YAML that fails only in the cluster.
 */
import type { Manifest } from './kustomize.ts'

type Labels = Record<string, string>

interface Container {
  name: string
  ports?: Array<{ name?: string, containerPort: number }>
  env?: Array<{ name: string, value?: string }>
  envFrom?: Array<{ configMapRef?: { name: string } }>
  livenessProbe?: Probe
  readinessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: { exec?: { command?: string[] } } }
}
interface Probe { httpGet?: { port: number | string } }

interface PodTemplate { metadata?: { labels?: Labels }, spec: { containers: Container[], terminationGracePeriodSeconds?: number } }

function matches (selector: Labels | undefined, labels: Labels | undefined): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

function key (m: Manifest): string {
  return `${m.kind}/${m.metadata.name}`
}

export function checkReferences (manifests: Manifest[]): Array<{ manifest: Manifest, message: string }> {
  const problems: Array<{ manifest: Manifest, message: string }> = []
  const add = (manifest: Manifest, message: string) => problems.push({ manifest, message })
  const ns = (m: Manifest) => m.metadata.namespace ?? ''
  const of = (kind: string) => manifests.filter(m => m.kind === kind)
  const deployments = of('Deployment')
  const templates = deployments.map(d => ({ d, template: (d.spec as { template: PodTemplate }).template }))
  const podsIn = (m: Manifest, selector: Labels | undefined) => templates.filter(t => ns(t.d) === ns(m) && matches(selector, t.template.metadata?.labels))
  const configMaps = new Map(of('ConfigMap').map(c => [`${ns(c)}/${c.metadata.name}`, (c.data ?? {}) as Record<string, string>]))

  for (const { d, template } of templates) {
    const selector = (d.spec as { selector?: { matchLabels?: Labels } }).selector?.matchLabels
    if (!matches(selector, template.metadata?.labels)) add(d, 'selector does not match the pod template\'s labels')
    for (const c of template.spec.containers) {
      const names = new Set((c.ports ?? []).flatMap(p => p.name === undefined ? [] : [p.name]))
      const numbers = new Set((c.ports ?? []).map(p => p.containerPort))
      for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        const port = c[kind]?.httpGet?.port
        if (port !== undefined && !(typeof port === 'string' ? names.has(port) : numbers.has(port))) add(d, `container ${c.name}: ${kind} port ${port} is not one of its ports`)
      }
      // The drain must fit in the grace period, which counts from the start of preStop.
      const env = new Map<string, string>()
      for (const from of c.envFrom ?? []) {
        const data = from.configMapRef === undefined ? undefined : configMaps.get(`${ns(d)}/${from.configMapRef.name}`)
        for (const [k, v] of Object.entries(data ?? {})) env.set(k, v)
      }
      for (const e of c.env ?? []) if (e.value !== undefined) env.set(e.name, e.value)
      const graceMs = Number(env.get('SHUTDOWN_GRACE_MS') ?? 10_000)
      const sleep = c.lifecycle?.preStop?.exec?.command?.join(' ').match(/sleep\s+(\d+)/)?.[1]
      const needed = graceMs / 1000 + Number(sleep ?? 0)
      const period = template.spec.terminationGracePeriodSeconds ?? 30
      if (period <= needed) add(d, `terminationGracePeriodSeconds ${period} does not exceed preStop (${sleep ?? 0} s) + SHUTDOWN_GRACE_MS (${graceMs / 1000} s)`)
    }
  }
  for (const s of of('Service')) {
    const selector = (s.spec as { selector?: Labels }).selector
    const pods = podsIn(s, selector)
    if (pods.length === 0) { add(s, 'selector matches no Deployment\'s pods'); continue }
    for (const port of (s.spec as { ports?: Array<{ name?: string, targetPort?: number | string }> }).ports ?? []) {
      const target = port.targetPort
      if (typeof target !== 'string') continue
      const named = pods.some(p => p.template.spec.containers.some(c => (c.ports ?? []).some(cp => cp.name === target)))
      if (!named) add(s, `port ${port.name ?? ''} targets ${target}, which no selected container names`)
    }
  }
  for (const p of of('PodDisruptionBudget')) {
    if (podsIn(p, (p.spec as { selector?: { matchLabels?: Labels } }).selector?.matchLabels).length === 0) add(p, 'selector matches no Deployment\'s pods')
  }
  for (const n of of('NetworkPolicy')) {
    if (podsIn(n, (n.spec as { podSelector?: { matchLabels?: Labels } }).podSelector?.matchLabels).length === 0) add(n, 'podSelector matches no Deployment\'s pods')
  }
  for (const h of of('HorizontalPodAutoscaler')) {
    const target = (h.spec as { scaleTargetRef: { kind: string, name: string } }).scaleTargetRef
    if (!manifests.some(m => m.kind === target.kind && m.metadata.name === target.name && ns(m) === ns(h))) add(h, `scaleTargetRef ${target.kind}/${target.name} does not exist`)
  }
  const services = of('Service')
  for (const sm of of('ServiceMonitor')) {
    const spec = sm.spec as { selector?: { matchLabels?: Labels }, endpoints?: Array<{ port?: string }> }
    const selected = services.filter(s => ns(s) === ns(sm) && matches(spec.selector?.matchLabels, s.metadata.labels))
    if (selected.length === 0) { add(sm, 'selector matches no Service'); continue }
    for (const e of spec.endpoints ?? []) {
      const named = selected.some(s => ((s.spec as { ports?: Array<{ name?: string }> }).ports ?? []).some(p => p.name === e.port))
      if (e.port !== undefined && !named) add(sm, `endpoint port ${e.port} is not a port name of ${selected.map(key).join(', ')}`)
    }
  }
  return problems
}
