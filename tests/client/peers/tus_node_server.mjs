// @tus/server with @tus/file-store, a peer for the tus-upload tests.
//   node tus_node_server.mjs PORT DIR
// Serves http://127.0.0.1:PORT/files/ and stores uploads in DIR (<id> + <id>.json).
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const [port, directory] = process.argv.slice(2)
if (!port || !directory) {
  console.error('usage: node tus_node_server.mjs PORT DIR')
  process.exit(2)
}
const server = new Server({ path: '/files', datastore: new FileStore({ directory }) })
server.listen({ host: '127.0.0.1', port: Number(port) }, () => {
  console.log(`@tus/server listening on http://127.0.0.1:${port}/files/`)
})
