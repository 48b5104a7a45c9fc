/**
 * The publish order and pace of a batch, and the seeded random source under them.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { MAX_SEED, freshSeed, randomInt, seededRandom, shuffle } from '../src/random.ts'
import { dueAtMs, interleave } from '../src/schedule.ts'

t.test('the same seed gives the same numbers, all in [0, 1)', async t => {
  const a = seededRandom(7)
  const b = seededRandom(7)
  const xs = Array.from({ length: 1000 }, () => a())
  t.same(Array.from({ length: 1000 }, () => b()), xs)
  t.ok(xs.every(x => x >= 0 && x < 1))
  t.notSame(Array.from({ length: 10 }, seededRandom(8)), xs.slice(0, 10))
  const seed = freshSeed()
  t.ok(Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED)
})

t.test('property: randomInt stays in its bounds; shuffle is a permutation', async t => {
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX_SEED }), fc.integer({ min: -50, max: 50 }), fc.nat(50), fc.array(fc.integer()), (seed, min, span, items) => {
    const random = seededRandom(seed)
    const n = randomInt(random, min, min + span)
    assert.ok(Number.isInteger(n) && n >= min && n <= min + span)
    assert.deepEqual(shuffle([...items], random).sort(), [...items].sort())
  }))
  t.pass()
})

t.test('property: the order keeps every event of every job, and only those', async t => {
  fc.assert(fc.property(fc.array(fc.nat(30), { maxLength: 20 }), fc.integer({ min: 0, max: MAX_SEED }), (lengths, seed) => {
    const order = interleave(lengths, seededRandom(seed))
    assert.equal(order.length, lengths.reduce((a, b) => a + b, 0))
    lengths.forEach((length, job) => assert.equal(order.filter(j => j === job).length, length, `job ${job}`))
  }))
  t.pass()
})

t.test('jobs run side by side: their events interleave, and they start at different times', async t => {
  const order = interleave(Array(20).fill(13), seededRandom(5))
  const firsts = Array.from({ length: 20 }, (_, job) => order.indexOf(job))
  const lasts = Array.from({ length: 20 }, (_, job) => order.lastIndexOf(job))
  t.ok(firsts.some(f => f > 0), 'not every job starts at once')
  t.ok(firsts.every((f, job) => lasts.some((l, other) => other !== job && l > f)), 'each job starts before some other one ends')
  t.not(order.slice(0, 13).every(j => j === order[0]), true, 'not one job after another')
})

t.test('property: events are spread evenly at the rate, over the whole batch', async t => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 100_000 }), fc.double({ min: 0.01, max: 100_000, noNaN: true }), (events, rate) => {
    assert.equal(dueAtMs(0, rate), 0)
    const last = dueAtMs(events - 1, rate)
    // n events at r per second take (n - 1) / r seconds from the first to the last.
    assert.ok(Math.abs(last - (events - 1) * 1000 / rate) < 1e-6 * Math.max(1, last))
    const gap = dueAtMs(1, rate)
    assert.ok(Math.abs(dueAtMs(events - 1, rate) - dueAtMs(events - 2, rate) - gap) < 1e-6 * Math.max(1, last), 'even gaps')
  }))
  t.pass()
})
