// Resume-after-abort with tus-js-client (Node).
//
//   node tusjs_resume.mjs ENDPOINT FILE CHUNK_SIZE [--protocol P] [--timeout SECONDS]
//
// --protocol P  tus-js-client's protocol: tus-v1 (default) or ietf-draft-05 (IETF draft, interop 6).
//
// 1. start an upload, abort() it (no termination) once onProgress reported >= half the file;
// 2. HEAD the upload URL until Upload-Offset settles; require 0 < offset < size;
// 3. a NEW tus.Upload with `uploadUrl` = the previous URL (no endpoint, so it cannot
//    silently create a fresh upload) finishes the upload;
// 4. check: no POST after resuming, the first PATCH starts at the HEAD offset, the bytes
//    sent after resuming equal size - offset (< size), and the URL did not change.
// The upload URL is printed on stdout as the last line. Exit 0 ok, 1 error, 3 timeout.
import {
  armGlobalTimeout, describeChunks, fail, headUpload, log, parseArgs, runUpload, settledOffset,
} from './common.mjs'

const USAGE = 'node tusjs_resume.mjs ENDPOINT FILE CHUNK_SIZE [--protocol P] [--timeout SECONDS]'
const {endpoint, file, chunkSize, size, opts} = parseArgs(USAGE, ['protocol', 'timeout'])
const protocol = opts.protocol ?? 'tus-v1'
armGlobalTimeout(Number(opts.timeout ?? 120))
if (size < 2) fail('file too small to abort half-way')

try {
  const first = await runUpload({file, size, chunkSize, endpoint, abortAt: Math.ceil(size / 2), protocol})
  if (!first.aborted) fail('first upload finished before it could be aborted')
  if (!first.url) fail('no upload URL after the first (aborted) upload')
  log(`phase 1: aborted ${first.url} after ${first.sentAtAbort} bytes reported; ${describeChunks(first.chunks)}`)

  const head = await settledOffset(first.url)
  log(`phase 2: HEAD -> ${head.status}, Upload-Offset ${head.offset}, Upload-Length ${head.length}`)
  if (!(head.offset > 0)) fail(`server offset after abort is ${head.offset}, expected > 0`)
  if (!(head.offset < size)) fail(`server offset after abort is ${head.offset}, expected < ${size}`)
  if (head.length !== null && head.length !== size) fail(`Upload-Length ${head.length} != file size ${size}`)

  const second = await runUpload({file, size, chunkSize, uploadUrl: first.url, protocol})
  const sentAfter = second.chunks.reduce((a, b) => a + b, 0)
  log(`phase 3: resumed; ${describeChunks(second.chunks)}`)
  const posts = second.requests.filter((r) => r.method === 'POST')
  const patches = second.requests.filter((r) => r.method === 'PATCH')
  if (posts.length > 0) fail('resumed upload sent a POST (created a new upload)')
  if (patches.length === 0) fail('resumed upload sent no PATCH')
  if (patches[0].offset !== head.offset) fail(`first PATCH after resume has Upload-Offset ${patches[0].offset}, expected ${head.offset}`)
  if (second.url !== first.url) fail(`URL changed on resume: ${first.url} -> ${second.url}`)
  if (sentAfter !== size - head.offset) fail(`sent ${sentAfter} bytes after resume, expected ${size - head.offset}`)
  if (!(sentAfter < size)) fail(`sent ${sentAfter} bytes after resume: restarted from 0`)

  const fin = await headUpload(second.url)
  if (fin.offset !== size) fail(`final Upload-Offset ${fin.offset} != ${size}`)
  log(`ok: resumed at ${head.offset}, sent ${sentAfter} more bytes`)
  console.log(second.url)
  process.exit(0)
} catch (e) {
  fail(`resume test failed: ${e && e.message ? e.message : e}`)
}
