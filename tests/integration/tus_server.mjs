// tus_server.mjs PORT DIR -- the reference tus 1.0 server (@tus/server 2 with
// @tus/file-store 2, from npm) on http://127.0.0.1:PORT/files, uploads stored
// in DIR (ID + ID.json). ESM imports ignore NODE_PATH: tus.sh copies this file
// next to the node_modules it imports from.
// Env: TUS_MAX_SIZE=bytes (Tus-Max-Size; 413 above it).
// Offers creation, creation-with-upload, creation-defer-length, termination,
// expiration; no checksum extension (checksums are tested on the test reactor,
// tests/unit/test_tus.c, and against @uploadx/core: tus_checksum.sh).
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';
const port = Number(process.argv[2]), directory = process.argv[3];
const server = new Server({ path: '/files', maxSize: Number(process.env.TUS_MAX_SIZE) || undefined,
  datastore: new FileStore({ directory }) });
server.listen({ host: '127.0.0.1', port }, () => console.log(`listening on ${port}`));
