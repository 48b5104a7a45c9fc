/**
 * `pnpm bench:profile DIR`: the top functions by self time in each
 * .cpuprofile under DIR (written by `node --cpu-prof`), to see where time goes.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

async function * profiles (dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * profiles(path)
    else if (entry.name.endsWith('.cpuprofile')) yield path
  }
}

/** Where a function lives, short: a package name, or a path inside the repository. */
function place (url: string): string {
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1] as string
  if (url.startsWith('node:')) return url
  if (url === '') return '(native)'
  return url.replace(/^file:\/\//, '').replace(/^.*?\/(services|packages|bench)\//, '$1/')
}

const dir = process.argv[2]
const top = Number(process.argv[3] ?? 15)
if (dir === undefined) {
  console.error('usage: pnpm bench:profile DIR [TOP]')
  process.exit(2)
}
for await (const path of profiles(dir)) {
  const profile = JSON.parse(await readFile(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  for (const [i, id] of profile.samples.entries()) {
    const node = byId.get(id)
    const dt = profile.timeDeltas[i] ?? 0
    if (node === undefined) continue
    const f = node.callFrame
    const key = `${f.functionName || '(anonymous)'} ${place(f.url)}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  }
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0)
  // Node writes one profile per thread; tsx's module-loader thread only compiles at start-up.
  if ([...self.keys()].some(k => k.includes('node:internal/modules/esm/worker')) && !process.argv.includes('--all')) continue
  console.log(`\n${relative(dir, path)}: ${(total / 1e6).toFixed(1)} s sampled, ${(100 * (total - idle) / total).toFixed(0)} % busy`)
  console.log('| self % of busy | function | where |\n| ---: | --- | --- |')
  for (const [key, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const [name, ...where] = key.split(' ')
    console.log(`| ${(100 * us / (total - idle)).toFixed(1)} | ${name} | ${where.join(' ')} |`)
  }
}
