// The demo page of tus-axum and tus-actix (`--demo`): Uppy's Dashboard
// uploading to the tus endpoint. Bundled by esbuild (build.mjs) into
// demo.js + demo.css, which the example binaries serve under /demo/.
//
// Configuration comes from the page: `window.TUS_DEMO` (set by a page that
// embeds the bundle, e.g. from another origin) or the <meta name="tus-endpoint">
// that the servers fill in:
//   { endpoint, headers, withCredentials, retryDelays, target }
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import Tus from '@uppy/tus'

import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'

const meta = document.querySelector('meta[name="tus-endpoint"]')
const config = Object.assign(
  {
    endpoint: meta ? meta.content : '/files/',
    headers: {},
    withCredentials: false,
    retryDelays: [0, 1000, 3000, 5000],
    target: '#uploader',
  },
  window.TUS_DEMO || {},
)

const uppy = new Uppy({ autoProceed: false, debug: false })
  .use(Dashboard, {
    target: config.target,
    inline: true,
    width: '100%',
    height: 420,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
  })
  .use(Tus, {
    endpoint: new URL(config.endpoint, window.location.href).href,
    headers: config.headers,
    withCredentials: config.withCredentials,
    // Resume after a reload: the upload URL is kept in localStorage under
    // the file's fingerprint (tus-js-client's default URL storage).
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    retryDelays: config.retryDelays,
  })

// What the page shows, and what the browser tests read.
const status = { events: [], errors: [] }
const log = (event, detail) => {
  status.events.push({ event, ...detail })
  const line = document.createElement('li')
  line.textContent = `${event}${detail.name ? ` ${detail.name}` : ''}${detail.url ? ` → ${detail.url}` : ''}${detail.message ? `: ${detail.message}` : ''}`
  document.querySelector('#log')?.append(line)
}
uppy.on('upload-success', (file, response) => log('upload-success', { name: file.name, url: response.uploadURL }))
uppy.on('upload-error', (file, error) => {
  status.errors.push(String(error))
  log('upload-error', { name: file && file.name, message: String(error) })
})
uppy.on('error', (error) => status.errors.push(String(error)))

window.tusDemo = { uppy, status, config }
