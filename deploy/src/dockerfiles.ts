/**
 * The Dockerfiles, without building them: dockerfile-utils' validator (the
 * one behind the Docker language server), then what this project asks of
 * an image, read from the parsed instructions (dockerfile-ast): more than
 * one stage, a final stage that runs as a non-root user, starts node in
 * exec form (so SIGTERM reaches it), and, for a service, has a HEALTHCHECK.
 */
import { readFile } from 'node:fs/promises'
import { DockerfileParser } from 'dockerfile-ast'
import { validate, ValidationSeverity } from 'dockerfile-utils'

export interface DockerfileInput {
  file: string
  /** A long-running service (a HEALTHCHECK is required), not a batch tool. */
  service: boolean
}

const ALL_ERRORS = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR
}

export async function checkDockerfile (input: DockerfileInput): Promise<Array<{ where: string, message: string }>> {
  const text = await readFile(input.file, 'utf8')
  const problems = validate(text, ALL_ERRORS).map(d => ({ where: `line ${d.range.start.line + 1}`, message: typeof d.message === 'string' ? d.message : d.message.value }))
  const instructions = DockerfileParser.parse(text).getInstructions()
  const froms = instructions.filter(i => i.getKeyword() === 'FROM')
  if (froms.length < 2) problems.push({ where: '', message: 'not multi-stage: the image would carry the build tools' })
  const lastFrom = froms.at(-1)
  const final = lastFrom === undefined ? [] : instructions.filter(i => i.getRange().start.line > lastFrom.getRange().start.line)
  const last = (keyword: string) => final.filter(i => i.getKeyword() === keyword).at(-1)
  const user = last('USER')?.getArgumentsContent()?.trim()
  if (user === undefined || /^(root|0)(:|$)/.test(user)) problems.push({ where: 'final stage', message: 'runs as root: add USER with a non-root user' })
  if (input.service && last('HEALTHCHECK') === undefined) problems.push({ where: 'final stage', message: 'no HEALTHCHECK' })
  const start = last('ENTRYPOINT')?.getArgumentsContent()?.trim() === '[]' || last('ENTRYPOINT') === undefined ? last('CMD') : last('ENTRYPOINT')
  const args = start?.getArgumentsContent()?.trim() ?? ''
  if (!/^\[\s*"node"/.test(args)) problems.push({ where: 'final stage', message: `must start node in exec form (["node", …]) so that SIGTERM reaches it, not ${args === '' ? 'nothing' : args}` })
  return problems
}
