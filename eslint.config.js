import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['**/node_modules/**', '**/.tap/**', '**/dist/**', 'packages/events/schema/**']
})
