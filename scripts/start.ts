/**
 * `pnpm start`: a training service and a gateway, configured by the
 * environment as each is alone, on TRAINING_PORT (8001) and GATEWAY_PORT
 * (8000); the gateway reaches this training service unless TRAINING_URLS
 * says otherwise.
 *
 * The services write straight to this process's stdout and stderr, so
 * their logs are pretty on a terminal and JSON lines when piped (a package
 * manager running both would pipe them). SIGINT, SIGTERM and SIGHUP stop
 * both; when one exits on its own, the other is stopped, and this exits
 * with the first failing one's code.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const SERVICES_DIR = fileURLToPath(new URL('../services/', import.meta.url))
const env = process.env
const trainingPort = env.TRAINING_PORT || '8001'
const gatewayPort = env.GATEWAY_PORT || '8000'

/**
 * Loaded in each service: Node has no "die with the parent", so a service
 * stops itself (gracefully) when this process is gone, even after a SIGKILL
 * that gave it no chance to pass a signal on.
 */
const EXIT_WITH_PARENT = 'data:text/javascript,process.channel.unref();process.once("disconnect",()=>process.kill(process.pid,"SIGTERM"))'

const children: ChildProcess[] = []
let exitCode: number | undefined
let stopping = false

function run (name: 'training' | 'gateway', childEnv: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', EXIT_WITH_PARENT, 'src/server.ts'], {
    cwd: `${SERVICES_DIR}${name}`,
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // A process group of its own: Ctrl-C and a package manager's signal to
    // this process's group would otherwise reach the service as well as the
    // signal passed on below, and a second signal ends a service at once,
    // skipping its drain.
    detached: true
  })
  children.push(child)
  child.once('exit', (code, signal) => {
    // A shell's convention for a process a signal ended.
    const status = code ?? 128 + (signal === null ? 0 : constants.signals[signal])
    if (status !== 0 && exitCode === undefined) exitCode = status
    stop('SIGTERM')
    if (children.every(c => c.exitCode !== null || c.signalCode !== null)) process.exit(exitCode ?? 0)
  })
}

/** Passes one signal on to each running service, once: the services bound their own drain. */
function stop (signal: NodeJS.Signals): void {
  if (stopping) return
  stopping = true
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
}

process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGHUP', () => stop('SIGTERM'))

run('training', { ...env, PORT: trainingPort })
run('gateway', { ...env, PORT: gatewayPort, TRAINING_URLS: env.TRAINING_URLS || `http://127.0.0.1:${trainingPort}` })
