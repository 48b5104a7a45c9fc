/**
 * Writes the JSON Schema files that workers in other languages validate
 * against. `test/json-schema.test.ts` fails when they are out of date.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderSchemaFiles } from '../src/json-schema.ts'

const dir = fileURLToPath(new URL('../schema/', import.meta.url))
mkdirSync(dir, { recursive: true })
for (const [name, text] of Object.entries(renderSchemaFiles())) {
  writeFileSync(dir + name, text)
  console.log(`wrote schema/${name}`)
}
