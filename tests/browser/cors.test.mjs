// CORS through the --cors-* flags, in headless Chromium: a page served from
// another loopback port (another origin) embeds the demo bundle and uploads
// to the example server with a custom header (X-CSRF-Token) and with
// credentials. It passes preflight only when the flags allow that origin,
// that header and credentials; otherwise the browser stops before any
// upload is created.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  addFile, clickUpload, launchBrowser, randomFile, recordRequests, serverBinaries, sha256Of,
  startPageServer, startServer, storedUploads, uploadError, uploadSuccess,
} from './support.mjs'

const CSRF = 'X-CSRF-Token'

/** A page on its own origin that loads the demo bundle from `tus` and uploads there. */
function crossOriginPage (state) {
  return () => {
    const config = {
      endpoint: `${state.tus}/files/`,
      headers: { [CSRF]: 'csrf-token-1' },
      withCredentials: true,
      retryDelays: [],
    }
    return `<!doctype html><meta charset="utf-8"><title>another origin</title>
<link rel="stylesheet" href="${state.tus}/demo/demo.css">
<div id="uploader"></div><ul id="log"></ul>
<script>window.TUS_DEMO = ${JSON.stringify(config)}</script>
<script src="${state.tus}/demo/demo.js"></script>`
  }
}

for (const { name, path } of serverBinaries()) {
  describe(`CORS flags on ${name}`, () => {
    let browser, pages, file
    const state = {}
    before(async () => {
      browser = await launchBrowser()
      pages = await startPageServer(crossOriginPage(state))
      file = randomFile(256 * 1024 + 3, 'cross.bin')
    })
    after(async () => {
      await browser?.close()
      await pages?.stop()
      file?.remove()
    })

    /**
     * Starts the server with `flags`, opens the cross-origin page and uploads
     * `file`; returns the upload's URL and sha256 (or the page's error), the
     * requests the page sent, what was stored and the server's log.
     */
    async function upload (flags, expectSuccess) {
      const server = await startServer(path, ['--demo', ...flags])
      state.tus = server.origin
      const page = await browser.newPage()
      try {
        const requests = recordRequests(page)
        await page.goto(`${pages.origin}/`)
        await addFile(page, file.path)
        await clickUpload(page)
        const result = { requests }
        if (expectSuccess) {
          result.url = await uploadSuccess(page)
          result.sha256 = await sha256Of(result.url)
          // Page code reads the answer's request id: CORS exposes it.
          result.requestId = await page.evaluate(async (url) => {
            const response = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' }, credentials: 'include' })
            return response.headers.get('x-request-id')
          }, result.url)
        } else {
          result.error = await uploadError(page)
        }
        result.stored = storedUploads(server.uploads)
        result.log = server.log
        return result
      } finally {
        await page.close()
        await server.stop()
      }
    }

    test('an allowed origin uploads with a custom header and credentials', async () => {
      const result = await upload(
        ['--cors-origin', pages.origin, '--cors-allow-header', CSRF, '--cors-credentials'], true)
      assert.equal(result.sha256, file.sha256)
      const tus = result.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH')
      assert.ok(tus.length >= 1, 'the page sent tus requests')
      for (const request of tus) assert.equal(request.headers['x-csrf-token'], 'csrf-token-1')
      assert.match(result.requestId ?? '', /^[0-9a-f]{32}$/, 'X-Request-ID is readable from page code')
      assert.ok(result.log.includes(`request{id=${result.requestId}}`), 'and names the log lines of that request')
    })

    test('a custom header the flags do not allow fails preflight', async () => {
      const result = await upload(['--cors-origin', pages.origin, '--cors-credentials'], false)
      assert.deepEqual(result.stored, [], `nothing created (${result.error})`)
    })

    test('credentials without --cors-credentials are refused by the browser', async () => {
      const result = await upload(['--cors-origin', pages.origin, '--cors-allow-header', CSRF], false)
      assert.deepEqual(result.stored, [], `nothing created (${result.error})`)
    })

    test('an origin not in --cors-origin is refused', async () => {
      const result = await upload(
        ['--cors-origin', 'http://127.0.0.1:9', '--cors-allow-header', CSRF, '--cors-credentials'], false)
      assert.deepEqual(result.stored, [], `nothing created (${result.error})`)
      assert.match(result.log, /method=OPTIONS path="\/files\/" status=403/, 'the preflight was refused')
    })
  })
}
