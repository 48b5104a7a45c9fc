import { Counter, Gauge, type Registry } from 'prom-client'

export const CUT_REASONS = ['message_rate', 'slow_client', 'token_expired'] as const

export function createGatewayMetrics (registry: Registry) {
  const registers = [registry]
  const metrics = {
    connections: new Gauge({ name: 'gateway_live_connections', help: 'Open client WebSocket connections.', registers }),
    accepted: new Counter({ name: 'gateway_connections_accepted_total', help: 'Client connections upgraded, with a session on a training replica.', registers }),
    refused: new Counter({
      name: 'gateway_connections_refused_total',
      help: 'Handshakes refused, by error code.',
      labelNames: ['code'] as const,
      registers
    }),
    upstreamFailures: new Counter({
      name: 'gateway_upstream_failures_total',
      help: 'Sessions a training replica did not accept (link down, not ready, or no answer in time; the next replica is tried), by replica.',
      labelNames: ['upstream'] as const,
      registers
    }),
    upstreamLost: new Counter({ name: 'gateway_upstream_lost_total', help: 'Open client sessions whose link to a training replica dropped.', registers }),
    linksOpen: new Gauge({ name: 'gateway_links_open', help: 'Open links to training replicas.', registers }),
    cuts: new Counter({
      name: 'gateway_live_disconnects_total',
      help: 'Client connections closed by the gateway, by reason.',
      labelNames: ['reason'] as const,
      registers
    }),
    frames: new Counter({
      name: 'gateway_frames_total',
      help: 'Client messages moved, by direction (downstream: written to a client; upstream: read from one).',
      labelNames: ['direction'] as const,
      registers
    })
  }
  // Counters start at 0, so a rate or an alert on them sees the first cut.
  for (const reason of CUT_REASONS) metrics.cuts.inc({ reason }, 0)
  return metrics
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>
