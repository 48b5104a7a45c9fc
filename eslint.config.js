import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['**/node_modules/**', '**/.tap/**', '**/dist/**', 'packages/events/schema/**', '.tools/**']
  }),
  {
    rules: {
      // A TypeBox schema and its static type share one name on purpose (one source of truth).
      '@typescript-eslint/no-redeclare': 'off',
      // `void promise` marks a promise deliberately not awaited.
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
