// @tus/server with @tus/file-store, the Node.js peer `tus-load --peers node` compares with.
//
//   node tus_node_server.mjs PORT DIR   ->  http://127.0.0.1:PORT/files/
//
// Defaults of both packages (no fsync of PATCH data); listens on loopback only.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const port = Number(process.argv[2] ?? 1080);
const directory = process.argv[3] ?? './node-uploads';

const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(port, '127.0.0.1', () => console.log(`@tus/server listening on 127.0.0.1:${port}/files/`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
