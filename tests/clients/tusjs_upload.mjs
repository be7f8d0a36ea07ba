// Upload FILE to a tus server with tus-js-client (Node), in CHUNK_SIZE PATCHes.
//
//   node tusjs_upload.mjs ENDPOINT FILE CHUNK_SIZE [--abort-at BYTES] [--upload-url URL] [--parallel N] [--protocol P] [--data-during-creation 1] [--timeout SECONDS]
//                         [--retry-delays MS,MS,...]
//
// --abort-at BYTES  abort (without terminating) once onProgress reported >= BYTES;
//                   the partial upload's URL is still printed and the exit code is 0.
// --upload-url URL  resume this existing upload instead of creating one.
// --parallel N      parallelUploads: N (concatenation extension); checks that N
//                   partial uploads and one final upload were created.
// --protocol P      tus-js-client's protocol: tus-v1 (default) or ietf-draft-05 (IETF draft, interop 6).
// --data-during-creation 1  uploadDataDuringCreation: the first chunk goes with the POST.
// --retry-delays    tus-js-client's retryDelays (default: short ones for loopback;
//                   `default` for tus-js-client's own [0, 1000, 3000, 5000]).
// The requests made are summarised on stderr (`requests: POST=.. PATCH=.. HEAD=..`).
// The upload URL is printed on stdout as the last line; progress goes to stderr.
// Exit codes: 0 ok, 1 error, 3 global timeout (default 120 s).
import {armGlobalTimeout, describeChunks, fail, log, parseArgs, runUpload} from './common.mjs'

const USAGE =
  'node tusjs_upload.mjs ENDPOINT FILE CHUNK_SIZE [--abort-at BYTES] [--upload-url URL] [--parallel N] [--protocol P] [--data-during-creation 1] [--timeout SECONDS] [--retry-delays MS,...]'
const {endpoint, file, chunkSize, size, opts} = parseArgs(USAGE, [
  'abort-at',
  'upload-url',
  'parallel',
  'protocol',
  'data-during-creation',
  'timeout',
  'retry-delays',
])
armGlobalTimeout(Number(opts.timeout ?? 120))

const abortAt = opts['abort-at'] === undefined ? null : Number(opts['abort-at'])
if (abortAt !== null && !(abortAt > 0 && abortAt < size)) fail(`--abort-at must be in 1..${size - 1}`)
const parallel = Number(opts.parallel ?? 1)
if (!(Number.isSafeInteger(parallel) && parallel >= 1 && parallel <= 16)) fail('--parallel must be in 1..16')

let retryDelays
if (opts['retry-delays'] === 'default') retryDelays = [0, 1000, 3000, 5000]
else if (opts['retry-delays'] !== undefined) retryDelays = opts['retry-delays'].split(',').map(Number)
if (retryDelays !== undefined && !retryDelays.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('bad --retry-delays')

try {
  const protocol = opts.protocol ?? 'tus-v1'
  const dataDuringCreation = opts['data-during-creation'] === '1'
  const uploadUrl = opts['upload-url'] ?? null
  const res = await runUpload({
    file, size, chunkSize, endpoint, uploadUrl, abortAt, parallel, protocol, dataDuringCreation, retryDelays,
  })
  if (dataDuringCreation) {
    // The first POST's answer must show data taken with it.
    const post = res.responses.find((r) => r.method === 'POST')
    if (!post || !(post.offset > 0)) fail(`uploadDataDuringCreation: the POST carried no data (answer: ${JSON.stringify(post)})`)
    log(`creation POST answered ${post.status} at offset ${post.offset}`)
  }
  const counts = {}
  for (const r of res.requests) counts[r.method] = (counts[r.method] ?? 0) + 1
  log(`requests: ${Object.entries(counts).map(([m, n]) => `${m}=${n}`).join(' ')}; retries: ${res.retries.length}`)
  if (!res.url) fail('upload finished without an upload URL')
  if (parallel > 1) {
    const posts = res.requests.filter((r) => r.method === 'POST')
    const partials = posts.filter((r) => r.concat === 'partial').length
    const finals = posts.filter((r) => r.concat && r.concat.startsWith('final;')).length
    if (partials !== parallel || finals !== 1) fail(`expected ${parallel} partial and 1 final POST, saw ${partials} and ${finals}`)
    log(`parallel: ${partials} partial uploads concatenated into 1 final upload`)
  }
  if (res.aborted) log(`aborted after ${res.sentAtAbort} bytes reported; ${describeChunks(res.chunks)} completed`)
  else log(`done: ${describeChunks(res.chunks)}`)
  console.log(res.url)
  process.exit(0)
} catch (e) {
  fail(`upload failed: ${e && e.message ? e.message : e}`)
}
