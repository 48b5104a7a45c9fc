/**
 * The dashboard in a real browser against a real stack: jobs from the
 * address, the form and the demo's list reach their end as the simulator
 * publishes them, the failed one shows its error, the page is a usable
 * document to assistive technology, it follows the gateway going away and
 * coming back, says so in whole words when it cannot be reached (at a phone's
 * width and a desktop's), and at a phone's width nothing overflows sideways.
 * Screenshots and the accessibility tree are saved to test/artifacts/.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import t from 'tap'
import type { Page } from 'playwright-core'
import { planBatch, type JobPlan } from '@training-live/simulator'
import { eventually, freePort, mintToken, uniqueId } from '@training-live/test-kit'
import { startDashboardServer } from '../src/demo/dev-server.ts'
import { startBrowserStack } from './helpers/browser-stack.ts'

const ARTIFACTS = new URL('./artifacts/', import.meta.url)
await mkdir(ARTIFACTS, { recursive: true })

const stack = await startBrowserStack('dashboard')
t.teardown(() => stack.stop())

const tenantId = uniqueId('tenant')
const settings = { tenantId, jobs: 3, products: 6, failRatio: 0.34, seed: 11, jobIdPrefix: uniqueId('job'), rate: 12 }
const plans = planBatch(settings)
const failing = plans.find(p => p.outcome === 'failed') as JobPlan
const failure = failing.events.at(-1)?.data as { error: string }

function pageUrl (jobIds: string[] = []): string {
  return `${stack.dashboard.origin}/?tenant=${tenantId}${jobIds.length === 0 ? '' : `&jobs=${jobIds.join(',')}`}`
}

const bar = (page: Page, jobId: string) => page.getByRole('progressbar', { name: `Progress of ${jobId}`, exact: true })
const card = (page: Page, jobId: string) => page.getByRole('article', { name: jobId, exact: true })
const overall = (page: Page) => page.locator('#overall-text')

/** Waits until the job's card shows this status, and returns its progress. */
async function reaches (page: Page, jobId: string, status: string, timeoutMs = 30_000): Promise<number> {
  await eventually(`${jobId} to read ${status}`, async () => await card(page, jobId).locator('.status-text').textContent() === status, timeoutMs)
  return Number(await bar(page, jobId).getAttribute('aria-valuenow'))
}

/** Records each message the live region is given from now on (they are removed after a while). */
async function recordAnnouncements (page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const said: string[] = []
    Object.assign(window, { said })
    new MutationObserver(records => {
      for (const r of records) for (const node of r.addedNodes) said.push(node.textContent ?? '')
    }).observe(document.getElementById('announcer') as HTMLElement, { childList: true })
  })
  return async () => await page.evaluate(() => (window as unknown as { said: string[] }).said)
}

t.test('jobs from the address, the form and the demo list run to their end', async t => {
  const page = await stack.context.newPage()
  t.teardown(() => page.close())
  const [fromUrl, fromForm, fromDemo] = plans.map(p => p.jobId) as [string, string, string]
  await page.goto(pageUrl([fromUrl]))

  t.equal(await bar(page, fromUrl).getAttribute('aria-valuenow'), '0', 'a job not started yet: 0')
  t.equal(await card(page, fromUrl).locator('.status-text').textContent(), 'Pending')
  await eventually('the page to be live', async () => await overall(page).textContent() === 'Live')

  // The form, by keyboard alone.
  await page.getByRole('textbox', { name: 'Job id' }).focus()
  await page.keyboard.type(fromForm)
  await page.keyboard.press('Enter')
  await bar(page, fromForm).waitFor()
  t.equal(await page.getByRole('textbox', { name: 'Job id' }).inputValue(), '', 'the field is cleared')
  t.match(page.url(), `jobs=${fromUrl},${fromForm}`, 'jobs added by hand are kept in the address')
  await page.keyboard.type('not valid!')
  await page.keyboard.press('Enter')
  t.match(await page.locator('#job-id-error').textContent(), 'is not a valid job id')
  t.equal(await page.getByRole('textbox', { name: 'Job id' }).getAttribute('aria-invalid'), 'true')
  await page.getByRole('textbox', { name: 'Job id' }).fill('')

  const said = await recordAnnouncements(page)
  const summary = await stack.simulate(settings)
  t.match(summary, { completed: 2, failed: 1 })

  for (const plan of plans) {
    if (plan.outcome === 'completed') {
      t.equal(await reaches(page, plan.jobId, 'Completed'), 100, `${plan.jobId}: the bar reaches 100`)
      t.equal(await card(page, plan.jobId).locator('.products').textContent(), '6 / 6')
    } else {
      const progress = await reaches(page, plan.jobId, 'Failed')
      t.ok(progress < 100, `${plan.jobId}: a failed job stops short of 100 (${progress})`)
      t.equal(await card(page, plan.jobId).locator('.job-error').textContent(), `Error: ${failure.error}`, 'its error is shown in words')
      t.equal(await card(page, plan.jobId).locator('.products').textContent(), `${plan.productsCompleted.length} / 6`)
    }
  }
  t.ok(await card(page, fromDemo).isVisible(), 'the job the simulator started was picked up from the demo list')
  await eventually('the page to be idle', async () => await overall(page).textContent() === 'Idle (no job running)')
  const elapsed = await card(page, fromUrl).locator('time.elapsed').getAttribute('datetime')
  t.match(elapsed, /^PT(\d+M)?\d+S$/, 'the elapsed time, machine-readable too')
  await eventually('the announcements', async () => (await said()).includes(`Job ${failing.jobId} failed: ${failure.error}.`))

  await page.screenshot({ path: new URL('dashboard-desktop.png', ARTIFACTS).pathname, fullPage: true })
})

t.test('landmarks, headings, labels, the progress bars and the live region', async t => {
  const page = await stack.context.newPage()
  t.teardown(() => page.close())
  await page.goto(pageUrl(plans.map(p => p.jobId)))
  for (const plan of plans) await reaches(page, plan.jobId, plan.outcome === 'completed' ? 'Completed' : 'Failed')

  for (const role of ['banner', 'main', 'contentinfo'] as const) t.equal(await page.getByRole(role).count(), 1, `one ${role} landmark`)
  t.equal(await page.getByRole('heading', { level: 1, name: 'Training jobs' }).count(), 1)
  t.equal(await page.getByRole('heading', { level: 2, name: 'Watch a job' }).count(), 1)
  t.equal(await page.getByRole('heading', { level: 2, name: /^Jobs/ }).count(), 1)
  t.equal(await page.getByRole('heading', { level: 3 }).count(), plans.length, 'a heading per job')
  t.equal(await page.getByRole('textbox', { name: 'Job id' }).count(), 1, 'the job id field has a label')
  t.equal(await page.getByRole('button', { name: 'Watch', exact: true }).count(), 1)
  const region = page.getByRole('status')
  t.equal(await region.count(), 1, 'one live region')
  t.equal(await region.getAttribute('aria-live'), 'polite')
  t.equal(await region.getAttribute('aria-atomic'), 'false', 'each message read once, not the whole region again')
  for (const plan of plans) {
    const b = bar(page, plan.jobId)
    t.equal(await b.count(), 1, `a progress bar named after ${plan.jobId}`)
    t.same([await b.getAttribute('aria-valuemin'), await b.getAttribute('aria-valuemax')], ['0', '100'])
    t.equal(await page.getByRole('button', { name: `Stop watching ${plan.jobId}` }).count(), 1)
  }

  const tree = await page.locator('body').ariaSnapshot()
  await writeFile(new URL('aria-snapshot.yaml', ARTIFACTS), tree)
  t.match(tree, '- banner:')
  t.match(tree, '- main:')
  t.match(tree, '- contentinfo:')
  t.match(tree, `progressbar "Progress of ${failing.jobId}"`)
  t.match(tree, `heading "${failing.jobId}" [level=3]`)
  t.match(tree, `- text: ${failure.error}`, 'the error, in words')

  // Removing a job by keyboard moves focus to the neighbouring card, not back to the top.
  const first = plans[0] as JobPlan
  await page.getByRole('button', { name: `Stop watching ${first.jobId}` }).focus()
  await page.keyboard.press('Enter')
  t.equal(await bar(page, first.jobId).count(), 0, 'the job is gone')
  t.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), /^Stop watching /)
  t.notMatch(page.url(), first.jobId, 'and gone from the address')
})

t.test('the gateway going away and coming back shows as reconnecting, then live', async t => {
  const page = await stack.context.newPage()
  t.teardown(() => page.close())
  const waiting = uniqueId('job_waiting')
  await page.goto(pageUrl([waiting]))
  await eventually('live', async () => await overall(page).textContent() === 'Live')
  const said = await recordAnnouncements(page)

  await stack.gateway.stop()
  // The lost connection first, then attempts that do not get through.
  await eventually('can\'t reach', async () => /^Can't reach the server\s· retrying (in \d+\ss|now)$/.test(await overall(page).textContent() ?? ''))
  t.match(await card(page, waiting).locator('.connection-text').textContent(), /^Offline\s· retrying (in \d+\ss|now)$/, 'on the job too')
  await stack.restartGateway()
  await eventually('live again', async () => await overall(page).textContent() === 'Live', 30_000)
  t.equal(await card(page, waiting).locator('.connection-text').textContent(), 'Live')
  const messages = await said()
  t.ok(messages.includes('Connection: Can\'t reach the server'), 'the trouble is announced, without the countdown')
  t.equal(messages.at(-1), 'Connection: Live', 'and its end')
})

t.test('outside the demo: the page asks for a tenant, and takes a development token from the hash', async t => {
  const plain = await startDashboardServer({ port: 0 })
  const page = await stack.context.newPage()
  t.teardown(async () => { await page.close(); await plain.close() })
  await page.goto(`${plain.origin}/`)
  t.equal(await page.getByRole('heading', { level: 2, name: 'Choose a tenant' }).count(), 1)
  await page.getByRole('textbox', { name: 'Tenant id' }).fill(tenantId)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 2, name: 'Watch a job' }).waitFor()
  t.match(page.url(), `?tenant=${tenantId}`)
  t.ok(await page.getByText('No token to connect with').isVisible(), 'without a token the page says how to get one')

  const done = plans.find(p => p.outcome === 'completed') as JobPlan
  const token = await mintToken({ tenantId })
  await page.goto(`${plain.origin}/?tenant=${tenantId}&jobs=${done.jobId}&gateway=${stack.gateway.wsUrl}#token=${token}`)
  t.equal(await reaches(page, done.jobId, 'Completed'), 100, 'a job over a token from the hash')
  t.notOk(await page.getByText('No token to connect with').isVisible())
})

t.test('at a phone\'s width (390 px) every card fits and nothing scrolls sideways', async t => {
  const page = await stack.context.newPage()
  t.teardown(() => page.close())
  await page.setViewportSize({ width: 390, height: 844 })
  const long = `${uniqueId('a_rather_long_job_identifier_that_must_wrap')}_x`
  await page.goto(pageUrl([...plans.map(p => p.jobId), long]))
  for (const plan of plans) await reaches(page, plan.jobId, plan.outcome === 'completed' ? 'Completed' : 'Failed')

  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
  t.ok(widths.scroll <= widths.client, `no horizontal scroll (${widths.scroll} <= ${widths.client})`)
  const outside = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter(e => e.getClientRects().length > 0 && !e.closest('.visually-hidden, .skip-link'))
    .filter(e => { const r = e.getBoundingClientRect(); return r.left < -0.5 || r.right > document.documentElement.clientWidth + 0.5 })
    .map(e => `${e.tagName.toLowerCase()}.${e.className}`))
  t.same(outside, [], 'no element reaches past the viewport\'s edges')
  const box = await bar(page, long).boundingBox()
  t.ok(box !== null && box.width > 250, 'a card takes the width of the phone')

  await page.screenshot({ path: new URL('dashboard-phone.png', ARTIFACTS).pathname, fullPage: true })
})

/**
 * How an element's text lies on screen: the words a line break cuts in two (a Range over a word has
 * client rects on more than one line), the word each line starts with, and whether it stays inside `within`.
 */
async function layoutOf (page: Page, selector: string, within: string) {
  return await page.locator(selector).evaluate((element, within) => {
    const split: string[] = []
    const lineStarts: string[] = []
    let lastTop: number | null = null
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode() as Text | null; node !== null; node = walker.nextNode() as Text | null) {
      for (const match of node.data.matchAll(/\S+/g)) {
        const range = document.createRange()
        range.setStart(node, match.index)
        range.setEnd(node, match.index + match[0].length)
        const tops = [...new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)))]
        if (tops.length !== 1) split.push(match[0])
        if (tops[0] !== undefined && tops[0] !== lastTop) lineStarts.push(match[0])
        lastTop = tops.at(-1) ?? lastTop
      }
    }
    const box = element.getBoundingClientRect()
    const outer = (element.closest(within) ?? document.documentElement).getBoundingClientRect()
    return {
      text: element.textContent ?? '',
      split,
      lineStarts,
      inside: box.left >= outer.left - 0.5 && box.right <= outer.right + 0.5 && element.scrollWidth <= element.clientWidth + 0.5
    }
  }, within)
}

for (const viewport of [{ width: 360, height: 740 }, { width: 1280, height: 860 }]) {
  t.test(`a gateway that cannot be reached, at ${viewport.width} × ${viewport.height}: "Can't reach the server", "Offline · retrying in N s", on whole words`, async t => {
    const page = await stack.context.newPage()
    t.teardown(() => page.close())
    await page.setViewportSize(viewport)
    const jobId = uniqueId('job_unreachable')
    // A free port: nothing listens there, so every attempt is refused.
    await page.goto(`${pageUrl([jobId])}&gateway=ws://127.0.0.1:${await freePort()}`)
    const connection = card(page, jobId).locator('.connection-text')
    // Only once an attempt failed is there a countdown to show.
    await eventually('the retry message', async () => /^Can't reach the server\s· retrying in \d+\ss$/.test(await overall(page).textContent() ?? '') &&
      /^Offline\s· retrying in \d+\ss$/.test(await connection.textContent() ?? ''))
    t.equal(await connection.getAttribute('data-connection'), 'unreachable')
    t.equal(await page.locator('#overall').getAttribute('data-state'), 'unreachable')

    const onCard = await layoutOf(page, `.job[data-job-id="${jobId}"] .connection-text`, 'article')
    const inHeader = await layoutOf(page, '#overall-text', '.page-header')
    for (const [where, layout] of [['card', onCard], ['header', inHeader]] as const) {
      t.match(layout.text, /retrying in \d+\ss$/, `${where}: the countdown`)
      t.same(layout.split, [], `${where}: no word broken across lines (lines starting with ${layout.lineStarts.join(', ')}: "${layout.text}")`)
      t.notOk(layout.lineStarts.includes('·'), `${where}: no line starts with the dot`)
      t.ok(layout.inside, `${where}: the text stays inside its box`)
    }
    if (viewport.width >= 1280) t.equal(onCard.lineStarts.length, 1, 'on a desktop card, one line')
    else {
      // The check sees a word cut in two: the rule the card had before (overflow-wrap: anywhere) in a narrow box.
      await page.evaluate(() => {
        const probe = Object.assign(document.createElement('p'), { id: 'probe', textContent: 'Reconnecting…' })
        probe.style.cssText = 'width: 3rem; overflow-wrap: anywhere'
        document.body.append(probe)
      })
      t.same((await layoutOf(page, '#probe', 'body')).split, ['Reconnecting…'], 'a word broken across lines is caught')
      await page.locator('#probe').evaluate(e => e.remove())
    }
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
    t.ok(widths.scroll <= widths.client, 'nothing scrolls sideways')
    await page.screenshot({ path: new URL(`dashboard-unreachable-${viewport.width}.png`, ARTIFACTS).pathname, fullPage: true })
  })
}
