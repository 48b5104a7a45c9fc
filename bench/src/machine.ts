/** What the bench reports about the machine and about each process it runs. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface Machine {
  cores: number
  cpu: string
  memoryGiB: number
  node: string
  os: string
  openFileLimit: string
}

export function machine (): Machine {
  let openFileLimit = 'unknown'
  try { openFileLimit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim() } catch {}
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    openFileLimit
  }
}

let ticks = 100
try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch {}

export interface ProcStats {
  rssBytes: number
  /** User plus system CPU time since the process started. */
  cpuSeconds: number
}

/** RSS and CPU time of a process, from /proc. */
export function procStats (pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { rssBytes: rssKb * 1024, cpuSeconds: (utime + stime) / ticks }
}
