/**
 * Redis as configured: one server (REDIS_URL), a primary found through
 * Sentinel, or a Cluster. ioredis does the discovery, failover and
 * reconnection in each case; the service sees one client either way.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { parseHostPorts, type TrainingConfig } from './config.ts'

export type RedisClient = Redis | Cluster

export type RedisMode = 'standalone' | 'sentinel' | 'cluster'

export function redisMode (c: TrainingConfig): RedisMode {
  if (c.REDIS_SENTINELS !== undefined) return 'sentinel'
  if (c.REDIS_CLUSTER_NODES !== undefined) return 'cluster'
  return 'standalone'
}

export interface ClientRole {
  connectionName: string
  /** Off for the subscriber: a connection in subscribe mode runs no other commands. */
  autoPipelining: boolean
}

export function createRedisClient (c: TrainingConfig, role: ClientRole): RedisClient {
  const options: RedisOptions = {
    connectionName: role.connectionName,
    // Commands wait through an outage instead of failing after a few retries: the consumer leaves
    // its events unacked meanwhile and /ready reports the outage.
    maxRetriesPerRequest: null,
    enableAutoPipelining: role.autoPipelining,
    lazyConnect: true
  }
  switch (redisMode(c)) {
    case 'sentinel':
      return new Redis({
        ...options,
        sentinels: parseHostPorts(c.REDIS_SENTINELS as string),
        name: c.REDIS_SENTINEL_MASTER,
        password: c.REDIS_PASSWORD,
        sentinelPassword: c.REDIS_SENTINEL_PASSWORD,
        // Reconnect to the new primary as soon as the sentinels announce a failover, rather than
        // when the old primary, now a replica, refuses a write.
        failoverDetector: true
      })
    case 'cluster':
      return new Cluster(parseHostPorts(c.REDIS_CLUSTER_NODES as string), {
        enableAutoPipelining: role.autoPipelining,
        lazyConnect: true,
        redisOptions: { ...options, password: c.REDIS_PASSWORD }
      })
    default:
      return new Redis(c.REDIS_URL, options)
  }
}
