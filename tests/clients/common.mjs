// Helpers shared by tusjs_upload.mjs and tusjs_resume.mjs.
import fs from 'node:fs'
import path from 'node:path'
import * as tus from 'tus-js-client'

export {tus}

// Retry quickly and only a few times: the server is on loopback.
export const RETRY_DELAYS = [0, 250, 1000, 2000]

export function fail(msg) {
  console.error(`error: ${msg}`)
  process.exit(1)
}

export function log(msg) {
  console.error(msg)
}

// Exit non-zero if the whole script has not finished within `seconds`.
export function armGlobalTimeout(seconds) {
  const t = setTimeout(() => {
    console.error(`error: global timeout of ${seconds}s reached`)
    process.exit(3)
  }, seconds * 1000)
  t.unref()
}

// Parse `ENDPOINT FILE CHUNK_SIZE [--flag VALUE]...`; `flags` lists allowed flag names.
export function parseArgs(usage, flags = []) {
  const argv = process.argv.slice(2)
  const positional = []
  const opts = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const name = a.slice(2)
      if (!flags.includes(name) || i + 1 >= argv.length) fail(`bad argument ${a}\nusage: ${usage}`)
      opts[name] = argv[++i]
    } else {
      positional.push(a)
    }
  }
  if (positional.length !== 3) fail(`usage: ${usage}`)
  const [endpoint, file, chunkStr] = positional
  const chunkSize = Number(chunkStr)
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) fail(`CHUNK_SIZE must be a positive integer, got ${chunkStr}`)
  let size
  try {
    size = fs.statSync(file).size
  } catch (e) {
    fail(`cannot stat ${file}: ${e.message}`)
  }
  return {endpoint, file, chunkSize, size, opts}
}

export function metadataFor(file) {
  return {filename: path.basename(file), filetype: 'application/octet-stream'}
}

// HEAD the upload URL (tus 1.0.0) and return {status, offset, length}.
export async function headUpload(url, timeoutMs = 10000) {
  const res = await fetch(url, {
    method: 'HEAD',
    headers: {'Tus-Resumable': '1.0.0'},
    signal: AbortSignal.timeout(timeoutMs),
  })
  const num = (h) => (res.headers.get(h) === null ? null : Number(res.headers.get(h)))
  return {status: res.status, offset: num('upload-offset'), length: num('upload-length')}
}

// Wait (bounded) until the server reports the same offset twice in a row, so a
// PATCH that was cut off by abort() has been fully handled by the server.
export async function settledOffset(url, {tries = 20, pauseMs = 300} = {}) {
  let prev = null
  for (let i = 0; i < tries; i++) {
    const h = await headUpload(url)
    if (h.status !== 200 && h.status !== 204) throw new Error(`HEAD ${url} -> ${h.status}`)
    if (h.offset === null || !Number.isFinite(h.offset)) throw new Error(`HEAD ${url}: no Upload-Offset`)
    if (prev !== null && h.offset === prev.offset) return h
    prev = h
    await new Promise((r) => setTimeout(r, pauseMs))
  }
  throw new Error(`Upload-Offset of ${url} did not settle after ${tries} HEADs`)
}

// Start a tus upload of `file` and resolve when it finishes or `abortAt` bytes
// have been reported by onProgress (then the upload is aborted).
// Resolves {url, aborted, chunks: [chunk sizes], requests: [{method, offset}],
// responses: [{method, status, offset}], retries: [{status, body, cause}]}.
// `protocol` is tus-js-client's: 'tus-v1' (default) or 'ietf-draft-05'.
export function runUpload({
  file,
  size,
  chunkSize,
  endpoint = null,
  uploadUrl = null,
  abortAt = null,
  parallel = 1,
  protocol = 'tus-v1',
  dataDuringCreation = false,
  retryDelays = RETRY_DELAYS,
}) {
  return new Promise((resolve, reject) => {
    const chunks = []
    const requests = []
    const responses = []
    const retries = []
    let aborted = false
    let lastLogged = -1
    // Parallel uploads need an input tus-js-client can slice: read the file into a Buffer.
    const input = parallel > 1 ? fs.readFileSync(file) : fs.createReadStream(file)
    const upload = new tus.Upload(input, {
      endpoint,
      // 'ietf-draft-05': the IETF draft at interop version 6.
      protocol,
      uploadDataDuringCreation: dataDuringCreation,
      parallelUploads: parallel,
      uploadUrl,
      // tus-js-client refuses uploadSize with parallelUploads (it takes the Buffer's length).
      uploadSize: parallel > 1 ? null : size,
      chunkSize,
      retryDelays,
      metadata: metadataFor(file),
      onBeforeRequest(req) {
        const off = req.getHeader('Upload-Offset')
        const concat = req.getHeader('Upload-Concat')
        const interop = req.getHeader('Upload-Draft-Interop-Version')
        // Draft mode must speak the draft on every request (the server picks the dialect by it).
        if (protocol === 'ietf-draft-05' && String(interop) !== '6') {
          throw new Error(`${req.getMethod()} without Upload-Draft-Interop-Version: 6 in draft mode`)
        }
        requests.push({
          method: req.getMethod(),
          offset: off === undefined || off === null ? null : Number(off),
          concat: concat === undefined || concat === null ? null : String(concat),
        })
      },
      onAfterResponse(req, res) {
        // Where the server says each response left the upload: the creation
        // POST's Upload-Offset shows whether it carried data.
        const off = res.getHeader('Upload-Offset')
        responses.push({
          method: req.getMethod(),
          status: res.getStatus(),
          offset: off === undefined || off === null ? null : Number(off),
        })
      },
      onShouldRetry(err, attempt) {
        // tus-js-client's own rule (retry unless a 4xx other than 409/423),
        // with the reason logged: a retry on loopback is a finding.
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0
        const body = err.originalResponse ? String(err.originalResponse.getBody() ?? '').slice(0, 200) : ''
        const cause = err.causingError ? String(err.causingError.message ?? err.causingError) : ''
        const retry = !(status >= 400 && status < 500) || status === 409 || status === 423
        retries.push({status, body, cause})
        log(`retry ${attempt + 1}: ${retry ? 'retrying' : 'giving up'} after status ${status} ${JSON.stringify(body)} ${cause}`)
        return retry
      },
      onProgress(sent, total) {
        const pct = Math.floor((sent / total) * 10)
        if (pct !== lastLogged) {
          lastLogged = pct
          log(`progress ${sent}/${total}`)
        }
        if (abortAt !== null && !aborted && sent >= abortAt) {
          aborted = true
          const url = upload.url
          upload
            .abort(false)
            .then(() => resolve({url, aborted: true, sentAtAbort: sent, chunks, requests, responses, retries}))
            .catch(reject)
        }
      },
      onChunkComplete(chunk, accepted, total) {
        chunks.push(chunk)
      },
      onSuccess() {
        if (aborted) return
        resolve({url: upload.url, aborted: false, chunks, requests, responses, retries})
      },
      onError(err) {
        if (aborted) return
        reject(err)
      },
    })
    upload.start()
  })
}

export function describeChunks(chunks) {
  if (chunks.length === 0) return 'no chunks'
  const sum = chunks.reduce((a, b) => a + b, 0)
  return `${chunks.length} chunk(s), ${sum} bytes, first ${chunks[0]}, last ${chunks[chunks.length - 1]}`
}
