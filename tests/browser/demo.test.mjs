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

/** Waits until upload `id`'s bytes on disk stop changing (a dropped body fully read). */
async function settledBytes (uploads, id) {
  let last = -1
  return waitFor(`upload ${id} to settle`, async () => {
    const now = bytesOnDisk(uploads, id)
    const settled = now === last && now
    last = now
    return settled
  }, { everyMs: 400, timeoutMs: 20000 })
}

/** The one upload stored so far, once it has at least `bytes` on disk. */
async function oneUploadPast (uploads, bytes) {
  return waitFor(`an upload with ${bytes} bytes on disk`, () => {
    const ids = storedUploads(uploads)
    return ids.length === 1 && bytesOnDisk(uploads, ids[0]) >= bytes && ids[0]
  }, { timeoutMs: 60000 })
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
        const paused = await settledBytes(server.uploads, id)
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
        const id = await startThrottledUpload(page, server, file)

        await page.reload()
        const received = await settledBytes(server.uploads, id)
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
