import t from 'tap'
import { initialJobView, type JobView } from '@training-live/events'
import { ProgressScreen, progressLine } from '../src/cli/progress-line.ts'

const view = (patch: Partial<JobView>): JobView => ({ ...initialJobView('t1', 'j1'), ...patch })

t.test('the line: bar, percent, products, status, connection, step', async t => {
  t.equal(progressLine(view({}), 'connecting'), '[....................]   0%  0/? products  pending  connecting')
  t.equal(progressLine(view({ status: 'running', progress: 35, products_completed: 1, total_products: 4, current_step: 'Trained p1' }), 'open'),
    '[#######.............]  35%  1/4 products  running  open  Trained p1')
  t.equal(progressLine(view({ status: 'completed', progress: 100, products_completed: 4, total_products: 4, current_step: 'Trained p4' }), 'closed'),
    '[####################] 100%  4/4 products  completed  closed  Trained p4')
})

function output (isTTY: boolean, columns?: number) {
  const writes: string[] = []
  return { writes, out: { isTTY, ...(columns === undefined ? {} : { columns }), write: (s: string) => writes.push(s) } }
}

t.test('on a terminal: redrawn in place, cut to the width, a newline at the end', async t => {
  const { writes, out } = output(true, 30)
  const screen = new ProgressScreen(out)
  screen.draw('short')
  screen.draw('short')
  screen.draw('x'.repeat(40))
  screen.finish()
  t.strictSame(writes, ['\r\x1b[2Kshort', `\r\x1b[2K${'x'.repeat(28)}…`, '\n'])
  screen.finish()
  t.equal(writes.length, 3, 'nothing more to end')
  const plain = output(true)
  new ProgressScreen(plain.out).draw('y'.repeat(100))
  t.equal(plain.writes[0]?.length, '\r\x1b[2K'.length + 79, '80 columns when the terminal does not say')
})

t.test('to a pipe or a file: one line per change', async t => {
  const { writes, out } = output(false)
  const screen = new ProgressScreen(out)
  screen.draw('a')
  screen.draw('a')
  screen.draw('b')
  screen.finish()
  t.strictSame(writes, ['a\n', 'b\n'])
})
