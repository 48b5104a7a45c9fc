/** Metric names a PromQL expression reads, with Prometheus' own grammar (lezer-promql). */
import { parser } from '@prometheus-io/lezer-promql'

/** Grafana's built-in interval variables, which are not PromQL until Grafana substitutes them. */
const GRAFANA_INTERVALS = /\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g

export interface ParsedQuery {
  metrics: string[]
  /** Where the grammar failed, if it did. */
  error: string | null
}

export function parseQuery (expr: string): ParsedQuery {
  const query = expr.replace(GRAFANA_INTERVALS, '5m')
  const tree = parser.parse(query)
  const metrics = new Set<string>()
  let error: string | null = null
  tree.iterate({
    enter: node => {
      if (node.type.isError && error === null) error = `PromQL syntax error at ${node.from}: …${query.slice(Math.max(0, node.from - 20), node.from + 10)}…`
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.add(query.slice(node.from, node.to))
    }
  })
  return { metrics: [...metrics], error }
}
