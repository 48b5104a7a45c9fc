/**
 * Live message ids are Redis stream ids, "<ms>-<seq>". They increase strictly
 * within a job, and a client echoes the last one back as `last_id`.
 */
export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/

export function isStreamId (value: string): boolean {
  return STREAM_ID_PATTERN.test(value)
}

/** Compares two stream ids numerically: negative, zero or positive. */
export function compareStreamIds (a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const ms = BigInt(am) - BigInt(bm)
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const seq = BigInt(as) - BigInt(bs)
  return seq === 0n ? 0 : (seq < 0n ? -1 : 1)
}
