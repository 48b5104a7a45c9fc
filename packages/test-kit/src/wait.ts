import { setTimeout as sleep } from 'node:timers/promises'

/** Polls `check` until it holds; throws after `timeoutMs` naming `what`. */
export async function eventually (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/**
 * The sum of a metric's samples over one or more services, keeping only
 * series whose labels include `labels` (e.g. `reason="schema"`) when given.
 */
export async function metricValue (services: { url: string } | Array<{ url: string }>, name: string, labels = ''): Promise<number> {
  let total = 0
  for (const service of Array.isArray(services) ? services : [services]) {
    const text = await (await fetch(`${service.url}/metrics`)).text()
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue
      if (labels !== '' && !line.includes(labels)) continue
      total += Number(line.split(' ').pop())
    }
  }
  return total
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
