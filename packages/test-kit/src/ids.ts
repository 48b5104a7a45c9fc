import { randomBytes } from 'node:crypto'

/** A name unique to this test run, safe as tenant/job id, queue or exchange name. */
export function uniqueId (prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`
}
