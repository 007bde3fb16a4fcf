// tus_uploadx.mjs PORT DIR -- a second tus 1.0 server, @uploadx/core 7 (npm),
// on http://127.0.0.1:PORT/files, uploads stored in DIR (ID + ID.META). Unlike
// @tus/server it implements the checksum extension: OPTIONS offers
// Tus-Checksum-Algorithm md5,sha1,sha256; a PATCH whose Upload-Checksum does
// not match its body is answered 460 and the piece is cut off the file again.
// ESM imports ignore NODE_PATH: tus_checksum.sh copies this file next to the
// node_modules it imports from.
// Env:
//   CORRUPT_PATCH=N[,M...]  the Nth (1-based, counted over the server's life)
//                           PATCH with a body gets one byte of its body
//                           flipped before uploadx's checksum sees it, as a
//                           bad link would: the server must answer 460.
//   TUS_CHECKSUM_ALGS=a,b   the algorithms offered (default md5,sha1,sha256).
// One line per answered request on stdout, for the test to read:
//   REQ <method> <path> status=<code> offset=<Upload-Offset or -> len=<Content-Length or ->
//       checksum=<Upload-Checksum or -> corrupted=<0|1>
import http from 'node:http';
import { Transform } from 'node:stream';
import { Tus } from '@uploadx/core';

const port = Number(process.argv[2]), directory = process.argv[3];
const corrupt = new Set((process.env.CORRUPT_PATCH || '').split(',').filter(Boolean).map(Number));
const tus = new Tus({ directory, maxFileSize: '8GB' });
if (process.env.TUS_CHECKSUM_ALGS) tus.storage.checksumTypes = process.env.TUS_CHECKSUM_ALGS.split(',');
let patches = 0;

// flips the first byte it carries
function flipper() {
  let done = false;
  return new Transform({
    transform(chunk, _enc, cb) {
      if (!done && chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[0] ^= 0xff;
        done = true;
      }
      cb(null, chunk);
    },
  });
}

const server = http.createServer((req, res) => {
  let corrupted = 0;
  if (req.method === 'PATCH' && Number(req.headers['content-length'] || 0) > 0) {
    patches++;
    if (corrupt.has(patches)) {
      corrupted = 1;
      // uploadx reads the body with req.pipe(...): hand it the flipped stream
      const orig = req.pipe.bind(req);
      req.pipe = (dest, opts) => orig(flipper()).pipe(dest, opts);
    }
  }
  res.on('finish', () => {
    const { pathname } = new URL(req.url, 'http://x');
    const h = req.headers;
    console.log(`REQ ${req.method} ${pathname} status=${res.statusCode} ` +
      `offset=${h['upload-offset'] || '-'} len=${h['content-length'] || '-'} ` +
      `checksum=${(h['upload-checksum'] || '-').replace(' ', ':')} corrupted=${corrupted}`);
  });
  if (!req.url.startsWith('/files')) {
    res.writeHead(404).end();
    return;
  }
  tus.handle(req, res);
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
