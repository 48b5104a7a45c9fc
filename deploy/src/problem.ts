/** One thing wrong with a deployment file: where it is and what is wrong. */
export interface Problem {
  file: string
  where: string
  message: string
}

export function formatProblems (problems: Problem[]): string {
  return problems.map(p => `${p.file}${p.where === '' ? '' : ` ${p.where}`}: ${p.message}`).join('\n')
}
