/* eslint-disable no-template-curly-in-string -- Compose's ${VAR} syntax in plain strings is what is tested */
import t from 'tap'
import { interpolateString, InterpolationError } from '../src/interpolate.ts'
import { parseQuery } from '../src/promql.ts'
import { namesInExposition } from '../src/exported-metrics.ts'

t.test('compose interpolation', async t => {
  const env = { A: 'a', EMPTY: '' }
  const unset = new Set<string>()
  t.equal(interpolateString('${A}-$A-$$A', env, unset), 'a-a-$A')
  t.equal(interpolateString('${EMPTY:-d} ${EMPTY-d} ${NONE-d} ${NONE:-d}', env, unset), 'd  d d')
  t.same([...unset], [])
  t.equal(interpolateString('x${NONE}y', env, unset), 'xy')
  t.same([...unset], ['NONE'], 'an unset variable without a default is reported')
  t.throws(() => interpolateString('${EMPTY:?must be set}', env, unset), /EMPTY is required: must be set/)
  t.ok((() => { try { interpolateString('${EMPTY:?x}', env, unset) } catch (err) { return err instanceof InterpolationError } return false })(), 'a typed error')
  t.equal(interpolateString('${EMPTY?must be set}', env, unset), '')
  t.throws(() => interpolateString('${NONE?must be set}', env, unset), /NONE is required: must be set/)
})

t.test('metric names in PromQL, through Grafana interval variables', async t => {
  t.same(parseQuery('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="1"}[$__rate_interval]))) / on() b_total').metrics.sort(), ['a_bucket', 'b_total'])
  t.equal(parseQuery('sum(rate(a[5m]))').error, null)
  t.match(parseQuery('sum(rate(a[5m])').error, /syntax error/)
  t.same(parseQuery('sum by (reason) (x)').metrics, ['x'], 'label names are not metrics')
})

t.test('names in an exposition include the series of histograms', async t => {
  const names = namesInExposition('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c counter\nc 1\n')
  t.same([...names].sort(), ['c', 'h', 'h_bucket', 'h_count', 'h_sum'])
})
