// The demo page (`--demo`) in headless Chromium, against every example
// server: an upload, a pause/resume, and a reload mid-upload that resumes
// from the fingerprint Uppy's tus plugin keeps in localStorage. The bytes
// are checked by GET (sha256); "mid-upload" is made deterministic by
// throttling the page's uploads (DevTools protocol) and watching the bytes
// arrive on disk, never by sleeping.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFile, bytesOnDisk, clickUpload, launchBrowser, randomFile, recordRequests, serverBinaries,
  sha256Of, startServer, storedUploads, throttleUploads, uploadSuccess, waitFor,
} from './support.mjs'

const MIB = 1024 * 1024
const THROTTLE = 2 * MIB // bytes per second while a scenario needs "mid-upload"

/**
 * The bytes of upload `id` on disk once every PATCH the page sent for it
 * (`requests`, from recordRequests) has ended on the server: the server logs
 * a request when its response is ready, which for a PATCH cut by a pause or
 * a reload is after it stored every byte it received. So the number read is
 * final, however slowly the machine runs.
 */
async function bytesOnceEnded (server, requests, id) {
  const patches = requests.filter((r) => r.method === 'PATCH' && r.url.endsWith(`/files/${id}`)).length
  assert.ok(patches >= 1, 'the page sent a PATCH')
  const logged = new RegExp(`method=PATCH path="/files/${id}" status=`, 'g')
  await waitFor(`${patches} PATCH(es) of ${id} to end on the server`,
    () => (server.log.match(logged) || []).length >= patches, { timeoutMs: 30000 })
  return bytesOnDisk(server.uploads, id)
}

/** Runs `body(page, file)` with a new page and a random file of `size` bytes; cleans both up. */
async function withPage (browser, size, name, body) {
  const file = randomFile(size, name)
  const page = await browser.newPage()
  try {
    await body(page, file)
  } finally {
    await page.close()
    file.remove()
  }
}

/** Starts a throttled upload of `file` from the page; resolves to its id once 1 MiB is on disk. */
async function startThrottledUpload (page, server, file) {
  const before = new Set(storedUploads(server.uploads))
  await page.goto(`${server.origin}/`)
  await throttleUploads(page, THROTTLE)
  await addFile(page, file.path)
  await clickUpload(page)
  return waitFor('the new upload', () =>
    storedUploads(server.uploads).find((id) => !before.has(id) && bytesOnDisk(server.uploads, id) >= MIB))
}

for (const { name, path } of serverBinaries()) {
  describe(`demo page on ${name}`, () => {
    let server, browser
    before(async () => {
      server = await startServer(path, ['--demo'])
      browser = await launchBrowser()
    })
    after(async () => {
      await browser?.close()
      await server?.stop()
    })

    test('an upload from the Dashboard arrives whole', () =>
      withPage(browser, 3 * MIB + 17, 'photo.bin', async (page, file) => {
        await page.goto(`${server.origin}/`)
        await addFile(page, file.path)
        await clickUpload(page)
        const url = await uploadSuccess(page)
        await page.waitForSelector('.uppy-StatusBar.is-complete', { timeout: 20000 })
        assert.equal(await sha256Of(url), file.sha256)
        assert.ok(url.startsWith(`${server.origin}/files/`), url)
      }))

    test('pause, then resume from where the server stopped', () =>
      withPage(browser, 16 * MIB, 'pause.bin', async (page, file) => {
        const requests = recordRequests(page)
        const id = await startThrottledUpload(page, server, file)
        await (await page.waitForSelector('button[data-cy="togglePauseResume"][title="Pause"]')).click()
        await page.waitForSelector('button[data-cy="togglePauseResume"][title="Resume"]')
        const paused = await bytesOnceEnded(server, requests, id)
        assert.ok(paused > 0 && paused < file.size, `paused at ${paused}`)
        const sentBeforeResume = requests.length
        await throttleUploads(page, 0)
        await (await page.waitForSelector('button[data-cy="togglePauseResume"][title="Resume"]')).click()
        const url = await uploadSuccess(page)
        assert.equal(await sha256Of(url), file.sha256)
        const resumed = requests.slice(sentBeforeResume)
        assert.equal(resumed.filter((r) => r.method === 'POST').length, 0, 'resuming creates no new upload')
        const firstPatch = resumed.find((r) => r.method === 'PATCH')
        assert.equal(Number(firstPatch?.offset), paused, 'the first PATCH after resuming starts at the paused offset')
        assert.equal(requests.filter((r) => r.method === 'POST').length, 1)
      }))

    test('a reload mid-upload resumes from the stored fingerprint', () =>
      withPage(browser, 16 * MIB, 'reload.bin', async (page, file) => {
        const before = new Set(storedUploads(server.uploads))
        const sent = recordRequests(page)
        const id = await startThrottledUpload(page, server, file)

        await page.reload()
        const received = await bytesOnceEnded(server, sent, id)
        assert.ok(received > 0 && received < file.size, `cut at ${received}`)
        const fingerprints = await page.evaluate(() =>
          Object.keys(localStorage).filter((key) => key.startsWith('tus::')).length)
        assert.equal(fingerprints, 1, 'Uppy kept the upload URL under the file fingerprint')

        const requests = recordRequests(page)
        await throttleUploads(page, 0)
        await addFile(page, file.path)
        await clickUpload(page)
        const url = await uploadSuccess(page)
        assert.ok(url.endsWith(`/files/${id}`), `the same upload: ${url}`)
        assert.equal(await sha256Of(url), file.sha256)
        assert.equal(requests.filter((r) => r.method === 'POST').length, 0, 'no new upload after the reload')
        const firstPatch = requests.find((r) => r.method === 'PATCH')
        assert.equal(Number(firstPatch?.offset), received, 'the bytes already stored are not sent again')
        assert.deepEqual(storedUploads(server.uploads).filter((i) => !before.has(i)), [id])
      }))
  })
}
