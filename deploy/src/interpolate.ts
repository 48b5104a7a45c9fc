/**
 * Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$$`), applied to every
 * string of a parsed compose file before schema validation, as Compose does.
 * Written here because no kept npm package implements Compose's rules; it is
 * only what the specification's "Interpolation" section lists.
 */
export type Env = Record<string, string | undefined>

const PATTERN = /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}]|\}(?!\}))*?))?\}|([A-Za-z_][A-Za-z0-9_]*))/g

export class InterpolationError extends Error {}

export function interpolateString (value: string, env: Env, unset: Set<string>): string {
  return value.replace(PATTERN, (_m, dollar: string | undefined, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (dollar !== undefined) return '$'
    const name = (braced ?? bare) as string
    const v = env[name]
    const isSet = v !== undefined
    const isEmpty = v === undefined || v === ''
    switch (op) {
      case ':-': return isEmpty ? (arg ?? '') : v as string
      case '-': return isSet ? v : (arg ?? '')
      case ':?': if (isEmpty) throw new InterpolationError(`${name} is required: ${arg ?? ''}`); return v as string
      case '?': if (!isSet) throw new InterpolationError(`${name} is required: ${arg ?? ''}`); return v
      default:
        if (!isSet) unset.add(name)
        return v ?? ''
    }
  })
}

/** Interpolates every string in `doc` (values stay strings; the schema check coerces where a number is due). */
export function interpolate (doc: unknown, env: Env, unset: Set<string>): unknown {
  if (typeof doc === 'string') return interpolateString(doc, env, unset)
  if (Array.isArray(doc)) return doc.map(d => interpolate(d, env, unset))
  if (doc !== null && typeof doc === 'object') {
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolate(v, env, unset)]))
  }
  return doc
}
