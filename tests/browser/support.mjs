// Shared by the browser tests: example servers, Debian's Chromium through
// puppeteer-core, test files, and reads of what the server stored.
//
// Everything talks to 127.0.0.1 only; every wait is bounded.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer from 'puppeteer-core'

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
// The flags this machine needs (see docs/src/browsers.md, "Tested in Chromium"):
// without the background-networking ones Chromium keeps dialling Google.
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The example server binaries under test: TUS_BROWSER_SERVERS="name=path,...". */
export function serverBinaries () {
  const spec = process.env.TUS_BROWSER_SERVERS
  if (!spec) throw new Error('TUS_BROWSER_SERVERS is not set (e.g. tus-axum=target/debug/tus-axum)')
  return spec.split(',').map((pair) => {
    const [name, path] = pair.split('=')
    return { name, path }
  })
}

/** Polls `probe` every `everyMs` until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor (what, probe, { timeoutMs = 30000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/**
 * Starts an example server on a free loopback port over a fresh directory,
 * with `flags`; resolves once it listens. Its log lines are kept in `.log`.
 */
export async function startServer (binary, flags = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tus-browser-'))
  const child = spawn(binary, ['--listen', '127.0.0.1:0', '--dir', join(dir, 'uploads'), ...flags], {
    env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const server = { child, dir, uploads: join(dir, 'uploads'), log: '' }
  child.stdout.on('data', (chunk) => { server.log += chunk })
  child.stderr.on('data', (chunk) => { server.log += chunk })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  server.stop = async () => {
    child.kill('SIGTERM')
    const stopped = await Promise.race([exited.then(() => true), new Promise((resolve) => setTimeout(resolve, 10000, false))])
    if (!stopped) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  const address = await waitFor(`${binary} to listen`, () => {
    if (child.exitCode !== null) throw new Error(`${binary} exited: ${server.log}`)
    return /listen=(127\.0\.0\.1:\d+)/.exec(server.log)?.[1]
  }, { timeoutMs: 20000 })
  server.origin = `http://${address}`
  return server
}

/** A static page server on another loopback port: GET / answers `html`. */
export async function startPageServer (html) {
  const server = createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      response.end(html())
    } else {
      response.writeHead(404)
      response.end()
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function launchBrowser () {
  const profile = mkdtempSync(join(tmpdir(), 'tus-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: CHROMIUM_FLAGS,
    protocolTimeout: 60000,
  })
  const close = browser.close.bind(browser)
  browser.close = async () => {
    await close()
    rmSync(profile, { recursive: true, force: true })
  }
  return browser
}

/** A file of `size` random bytes; `.path`, `.sha256`, `.remove()`. */
export function randomFile (size, name = 'upload.bin') {
  const dir = mkdtempSync(join(tmpdir(), 'tus-file-'))
  const path = join(dir, name)
  const bytes = randomBytes(size)
  writeFileSync(path, bytes)
  return {
    path,
    size,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The sha256 of what a GET of `url` answers (the upload's bytes). */
export async function sha256Of (url) {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  return createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')
}

/** The ids of the uploads stored in a filesystem store's directory. */
export function storedUploads (uploads) {
  let names = []
  try {
    names = readdirSync(uploads)
  } catch {
    return []
  }
  return names.filter((name) => name.endsWith('.info')).map((name) => name.slice(0, -'.info'.length))
}

/** Bytes of upload `id` on disk (its data file's length), read without any request. */
export function bytesOnDisk (uploads, id) {
  try {
    return statSync(join(uploads, `${id}.bin`)).size
  } catch {
    return 0
  }
}

/** Records every tus request the page sends: method, URL, Upload-Offset, headers. */
export function recordRequests (page) {
  const requests = []
  page.on('request', (request) => {
    const method = request.method()
    if (['POST', 'PATCH', 'HEAD', 'OPTIONS'].includes(method)) {
      const headers = request.headers()
      requests.push({ method, url: request.url(), offset: headers['upload-offset'], headers })
    }
  })
  return requests
}

/** Adds `path` to the Uppy Dashboard on `page` through its file input. */
export async function addFile (page, path) {
  const input = await page.waitForSelector('.uppy-Dashboard-input', { timeout: 20000 })
  await input.uploadFile(path)
  await page.waitForFunction(() => window.tusDemo.uppy.getFiles().length === 1, { timeout: 20000 })
}

/** Clicks the Dashboard's upload button. */
export async function clickUpload (page) {
  const button = await page.waitForSelector('.uppy-StatusBar-actionBtn--upload', { visible: true, timeout: 20000 })
  await button.click()
}

/** Waits until the page reports a finished upload; resolves to its URL. */
export async function uploadSuccess (page, timeoutMs = 120000) {
  const handle = await page.waitForFunction(() => {
    const { status } = window.tusDemo
    if (status.errors.length) return { error: status.errors.join('; ') }
    const done = status.events.find((e) => e.event === 'upload-success')
    return done && { url: done.url }
  }, { timeout: timeoutMs, polling: 100 })
  const result = await handle.jsonValue()
  if (result.error) throw new Error(`upload failed in the page: ${result.error}`)
  return result.url
}

/** Waits until the page reports an upload error; resolves to its text. */
export async function uploadError (page, timeoutMs = 30000) {
  const handle = await page.waitForFunction(() => {
    const { status } = window.tusDemo
    if (status.events.some((e) => e.event === 'upload-success')) return { success: true }
    return status.errors.length && { error: status.errors.join('; ') }
  }, { timeout: timeoutMs, polling: 100 })
  const result = await handle.jsonValue()
  if (result.success) throw new Error('the upload succeeded but should have failed')
  return result.error
}

/** Throttles the page's uploads (bytes per second) through the DevTools protocol; 0 lifts it. */
export async function throttleUploads (page, bytesPerSecond) {
  const cdp = await page.createCDPSession()
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond > 0 ? bytesPerSecond : -1,
  })
  return cdp
}
