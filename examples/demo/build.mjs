// Bundles web/demo.js (Uppy core, Dashboard, Tus and their CSS) into
// OUTDIR/demo.js and OUTDIR/demo.css. Called by build.rs after `npm ci`:
//   node build.mjs OUTDIR
import { build } from 'esbuild'

const outdir = process.argv[2]
if (!outdir) {
  console.error('usage: node build.mjs OUTDIR')
  process.exit(2)
}
await build({
  entryPoints: { demo: 'web/demo.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir,
  logLevel: 'warning',
  legalComments: 'eof',
})
