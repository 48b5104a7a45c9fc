/** The queries of a Grafana dashboard (panels, rows' panels and template variables). */
export interface DashboardQuery {
  panel: string
  expr: string
}

interface Panel { title?: string, panels?: Panel[], targets?: Array<{ expr?: string }> }

export function dashboardQueries (dashboard: unknown): DashboardQuery[] {
  const d = dashboard as { panels?: Panel[], templating?: { list?: Array<{ name?: string, query?: unknown }> } }
  if (!Array.isArray(d.panels)) throw new Error('not a Grafana dashboard: no panels')
  const out: DashboardQuery[] = []
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push({ panel: p.title ?? '(untitled)', expr: t.expr })
      visit(p.panels ?? [])
    }
  }
  visit(d.panels)
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query
    // label_values(metric, label): the metric must exist too.
    const m = q === undefined ? null : /^label_values\((\w+),/.exec(q)
    if (m !== null) out.push({ panel: `variable ${v.name ?? ''}`, expr: m[1] as string })
  }
  return out
}
