/**
 * Where a service may listen, and the one line it says when it cannot.
 */
import { BlockList, isIP } from 'node:net'

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/**
 * Whether `host` is reachable from this machine only: `localhost`,
 * 127.0.0.0/8 or ::1 (in any spelling, IPv4-mapped included). Any other
 * name counts as not loopback, since it may resolve to anything.
 */
export function isLoopbackHost (host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true
  const family = isIP(host)
  return family !== 0 && loopback.check(host, family === 4 ? 'ipv4' : 'ipv6')
}

/**
 * What to tell the user when `listen` fails with `err` for a reason of
 * theirs (a busy port, a wrong HOST), or undefined for anything else, which
 * deserves its stack trace.
 */
export function listenFailure (service: string, host: string, port: number, err: unknown): string | undefined {
  switch ((err as { code?: unknown } | undefined)?.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use (another ${service} running? set PORT)`
    case 'EACCES':
      return `not allowed to listen on port ${port} on ${host} (set PORT to 1024 or above)`
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}: not an address of this machine (set HOST)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: the name does not resolve (set HOST)`
    default:
      return undefined
  }
}
