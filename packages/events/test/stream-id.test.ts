import fc from 'fast-check'
import t from 'tap'
import { STREAM_ID_PATTERN, compareStreamIds, isStreamId } from '../src/stream-id.ts'

t.test('isStreamId', async t => {
  for (const id of ['0-0', '1-0', '1759926896789-0', '1759926896789-12', '18446744073709551615-18446744073709551615', '00001-0002']) {
    t.equal(isStreamId(id), true, id)
  }
  for (const id of ['', '1', '1-', '-1', '1-2-3', 'a-0', '0-a', '1.5-0', ' 1-0', '1-0 ', '1-0\n', '+1-0', '-1-0', '$', '>', '*', '123456789012345678901-0', '0-123456789012345678901']) {
    t.equal(isStreamId(id), false, JSON.stringify(id))
  }
  t.equal(STREAM_ID_PATTERN.test('5-5'), true, 'the pattern is exported for request schemas')
})

t.test('compareStreamIds', async t => {
  t.test('equal ids', async t => {
    t.equal(compareStreamIds('5-3', '5-3'), 0)
    t.equal(compareStreamIds('0-0', '0-0'), 0)
    t.equal(compareStreamIds('007-01', '7-1'), 0, 'leading zeros do not matter')
    t.equal(compareStreamIds('7-1', '007-01'), 0, 'on either side')
    t.equal(compareStreamIds('0-0', '000-000'), 0, 'nor does zero written long')
  })
  t.test('milliseconds compare numerically, not as text', async t => {
    t.equal(compareStreamIds('9-0', '10-0'), -1)
    t.equal(compareStreamIds('10-0', '9-0'), 1)
    t.equal(compareStreamIds('100-0', '99-999'), 1, 'the time decides before the sequence')
    t.equal(compareStreamIds('1759926896789-0', '1759926896790-0'), -1)
  })
  t.test('the sequence decides within a millisecond, numerically', async t => {
    t.equal(compareStreamIds('5-2', '5-10'), -1)
    t.equal(compareStreamIds('5-10', '5-2'), 1)
    t.equal(compareStreamIds('5-0', '5-1'), -1)
  })
  t.test('values beyond 2^53 keep their precision', async t => {
    // 2^53 + 1 and 2^53 are the same JavaScript number, but different ids.
    t.equal(compareStreamIds('9007199254740993-0', '9007199254740992-0'), 1)
    t.equal(compareStreamIds('9007199254740992-0', '9007199254740993-0'), -1)
    t.equal(compareStreamIds('1-9007199254740993', '1-9007199254740992'), 1)
    t.equal(compareStreamIds('18446744073709551615-0', '18446744073709551614-18446744073709551615'), 1, 'the largest Redis ids')
  })
  t.test('a bare number is read as <ms>-0', async t => {
    t.equal(compareStreamIds('5', '5-0'), 0)
    t.equal(compareStreamIds('5', '5-1'), -1)
    t.equal(compareStreamIds('6-0', '5'), 1)
  })
  t.test('sorting with it orders ids as Redis does', async t => {
    const ids = ['10-0', '9-5', '9-10', '1-0', '100-0', '9-0', '0-1']
    t.strictSame([...ids].sort(compareStreamIds), ['0-1', '1-0', '9-0', '9-5', '9-10', '10-0', '100-0'])
  })
})

/** A 0..2^64-1 integer as text, often beyond Number.MAX_SAFE_INTEGER. */
const part = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 20n }),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n })
)
const streamId = fc.tuple(part, part).map(([ms, seq]) => ({ id: `${ms}-${seq}`, ms, seq }))

function expected (a: { ms: bigint, seq: bigint }, b: { ms: bigint, seq: bigint }): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1
  return 0
}

t.test('property: compare is antisymmetric and agrees with (BigInt ms, BigInt seq) order', async t => {
  const runs = 1000
  fc.assert(fc.property(streamId, streamId, (a, b) => {
    if (!isStreamId(a.id) || !isStreamId(b.id)) return false
    const ab = compareStreamIds(a.id, b.id)
    const ba = compareStreamIds(b.id, a.id)
    if (ab !== expected(a, b)) return false
    if (ab !== -ba) return false
    return compareStreamIds(a.id, a.id) === 0
  }), { numRuns: runs })
  t.pass(`${runs} pairs`)
})

t.test('property: sorting with it agrees with sorting by (BigInt ms, BigInt seq)', async t => {
  const runs = 500
  fc.assert(fc.property(streamId, streamId, streamId, (a, b, c) => {
    const sorted = [a, b, c].map(x => x.id).sort(compareStreamIds)
    const byBigInt = [a, b, c].sort(expected).map(x => x.id)
    return sorted.every((id, i) => compareStreamIds(id, byBigInt[i] as string) === 0)
  }), { numRuns: runs })
  t.pass(`${runs} triples`)
})
