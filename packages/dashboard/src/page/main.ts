/**
 * The dashboard page's entry: reads its configuration, picks the token
 * source, and wires the forms, the demo's job list and the dashboard.
 */
import './styles.css'
import { Announcer } from './announcer.ts'
import { DEMO_META_NAME, isValidId, parseConfig } from './config.ts'
import { Dashboard, MAX_AUTO_JOBS } from './dashboard.ts'
import { pollDemoJobs } from './demo-jobs.ts'
import { demoTokenSource, fixedTokenSource, type TokenSource } from './tokens.ts'

function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const node = document.getElementById(id)
  if (node === null) throw new Error(`#${id} is missing from the page`)
  return node as T
}

const meta = document.querySelector<HTMLMetaElement>(`meta[name="${DEMO_META_NAME}"]`)?.content ?? null
const config = parseConfig(location.href, meta)
const announcer = new Announcer(byId('announcer'))

function chooseTenant (): void {
  byId('tenant-panel').hidden = false
  const form = byId<HTMLFormElement>('tenant-form')
  const input = byId<HTMLInputElement>('tenant-id')
  // A valid id goes on as the form's GET submission: the page reloads with ?tenant=.
  form.addEventListener('submit', event => {
    if (isValidId(input.value.trim())) return
    event.preventDefault()
    input.setAttribute('aria-invalid', 'true')
    input.focus()
  })
}

function tokenSource (tenantId: string): TokenSource | null {
  if (config.hashToken !== null) return fixedTokenSource(config.hashToken)
  if (config.demo) return demoTokenSource(tenantId)
  return null
}

function start (tenantId: string): void {
  byId('tenant').hidden = false
  byId('tenant-name').textContent = tenantId
  byId('add-panel').hidden = false
  byId('jobs-panel').hidden = false
  const input = byId<HTMLInputElement>('job-id')
  const error = byId('job-id-error')
  const getToken = tokenSource(tenantId)
  if (getToken === null) byId('token-missing').hidden = false

  const dashboard = new Dashboard({
    tenantId,
    gateway: config.gateway,
    // Without a token every handshake is refused; the notice above says why, and the cards keep trying
    // (a browser cannot tell a refused handshake from a gateway that is away).
    getToken: getToken ?? (async () => ''),
    list: byId<HTMLUListElement>('jobs'),
    empty: byId('jobs-empty'),
    count: byId('job-count'),
    indicator: byId('overall'),
    indicatorText: byId('overall-text'),
    announcer,
    fallbackFocus: input
  })

  const showError = (text: string | null): void => {
    error.hidden = text === null
    error.textContent = text ?? ''
    if (text === null) input.removeAttribute('aria-invalid')
    else input.setAttribute('aria-invalid', 'true')
  }
  if (config.rejectedJobIds.length > 0) showError(`Not valid job ids, left out: ${config.rejectedJobIds.join(', ')}`)
  for (const jobId of config.jobIds) dashboard.add(jobId)

  byId<HTMLFormElement>('add-form').addEventListener('submit', event => {
    event.preventDefault()
    const jobId = input.value.trim()
    if (jobId === '') return showError('Enter a job id.')
    if (!isValidId(jobId)) return showError(`"${jobId}" is not a valid job id.`)
    if (!dashboard.add(jobId)) return showError(`${jobId} is already on the page.`)
    showError(null)
    input.value = ''
    announcer.announce(`Watching ${jobId}.`)
  })

  if (config.demo) {
    pollDemoJobs(tenantId, jobs => {
      // The newest few only: a page opened late need not replay the whole run.
      for (const job of jobs.slice(-MAX_AUTO_JOBS)) dashboard.add(job.job_id, true)
      // Times a snapshot does not carry, for jobs added by hand too.
      for (const job of jobs) dashboard.learnTimes(job.job_id, job.started_at, job.finished_at)
    })
  }
}

if (config.tenantId === null) chooseTenant()
else start(config.tenantId)
