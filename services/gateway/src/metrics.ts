import { Counter, Gauge, type Registry } from 'prom-client'

export const CUT_REASONS = ['message_rate', 'slow_client'] as const

export function createGatewayMetrics (registry: Registry) {
  const registers = [registry]
  const metrics = {
    connections: new Gauge({ name: 'gateway_live_connections', help: 'Open client WebSocket connections.', registers }),
    accepted: new Counter({ name: 'gateway_connections_accepted_total', help: 'Client connections proxied to an upstream.', registers }),
    refused: new Counter({
      name: 'gateway_connections_refused_total',
      help: 'Handshakes refused, by error code.',
      labelNames: ['code'] as const,
      registers
    }),
    upstreamFailures: new Counter({
      name: 'gateway_upstream_failures_total',
      help: 'Upstream handshakes that failed (the next upstream is tried), by upstream.',
      labelNames: ['upstream'] as const,
      registers
    }),
    upstreamLost: new Counter({ name: 'gateway_upstream_lost_total', help: 'Open connections whose upstream dropped.', registers }),
    cuts: new Counter({
      name: 'gateway_live_disconnects_total',
      help: 'Client connections closed by the gateway, by reason.',
      labelNames: ['reason'] as const,
      registers
    }),
    frames: new Counter({
      name: 'gateway_frames_total',
      help: 'Frames proxied, by direction.',
      labelNames: ['direction'] as const,
      registers
    })
  }
  // Counters start at 0, so a rate or an alert on them sees the first cut.
  for (const reason of CUT_REASONS) metrics.cuts.inc({ reason }, 0)
  return metrics
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>
