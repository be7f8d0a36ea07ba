// Upload FILE to a tus server with tus-js-client (Node), in CHUNK_SIZE PATCHes.
//
//   node tusjs_upload.mjs ENDPOINT FILE CHUNK_SIZE [--abort-at BYTES] [--upload-url URL] [--timeout SECONDS]
//
// --abort-at BYTES  abort (without terminating) once onProgress reported >= BYTES;
//                   the partial upload's URL is still printed and the exit code is 0.
// --upload-url URL  resume this existing upload instead of creating one.
// The upload URL is printed on stdout as the last line; progress goes to stderr.
// Exit codes: 0 ok, 1 error, 3 global timeout (default 120 s).
import {armGlobalTimeout, describeChunks, fail, log, parseArgs, runUpload} from './common.mjs'

const USAGE = 'node tusjs_upload.mjs ENDPOINT FILE CHUNK_SIZE [--abort-at BYTES] [--upload-url URL] [--timeout SECONDS]'
const {endpoint, file, chunkSize, size, opts} = parseArgs(USAGE, ['abort-at', 'upload-url', 'timeout'])
armGlobalTimeout(Number(opts.timeout ?? 120))

const abortAt = opts['abort-at'] === undefined ? null : Number(opts['abort-at'])
if (abortAt !== null && !(abortAt > 0 && abortAt < size)) fail(`--abort-at must be in 1..${size - 1}`)

try {
  const res = await runUpload({file, size, chunkSize, endpoint, uploadUrl: opts['upload-url'] ?? null, abortAt})
  if (!res.url) fail('upload finished without an upload URL')
  if (res.aborted) log(`aborted after ${res.sentAtAbort} bytes reported; ${describeChunks(res.chunks)} completed`)
  else log(`done: ${describeChunks(res.chunks)}`)
  console.log(res.url)
  process.exit(0)
} catch (e) {
  fail(`upload failed: ${e && e.message ? e.message : e}`)
}
