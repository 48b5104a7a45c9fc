/**
 * Live message ids are Redis stream ids, "<ms>-<seq>". They increase strictly
 * within a job, and a client echoes the last one back as `last_id`.
 */
export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/

export function isStreamId (value: string): boolean {
  return STREAM_ID_PATTERN.test(value)
}

/**
 * Compares two decimal digit strings by value, without converting them: the
 * parts of an id go up to 20 digits, past what a number holds exactly, and
 * this runs for every message and socket, where BigInt would allocate.
 */
function compareDecimal (a: string, b: string): number {
  let i = 0
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++
  let j = 0
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++
  const la = a.length - i
  const lb = b.length - j
  if (la !== lb) return la < lb ? -1 : 1
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return 0
}

/** Compares two stream ids numerically: negative, zero or positive. A bare number is read as `<ms>-0`. */
export function compareStreamIds (a: string, b: string): number {
  if (a === b) return 0
  const [am, as] = parts(a)
  const [bm, bs] = parts(b)
  return compareDecimal(am, bm) || compareDecimal(as, bs)
}

/** The "<ms>" and "<seq>" parts of an id. */
function parts (id: string): [string, string] {
  const dash = id.indexOf('-')
  return dash < 0 ? [id, '0'] : [id.slice(0, dash), id.slice(dash + 1)]
}
