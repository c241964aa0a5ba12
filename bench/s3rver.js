// Starts @20minutes/s3rver 4 for the benchmark, with a request log read by bench/measure.py.
//
// Usage: node --openssl-legacy-provider bench/s3rver.js SUPPORT_DIR PORT DATA_DIR REQUEST_LOG BUCKET
// SUPPORT_DIR is tests/support (where `npm ci` installed the package). Listens on 127.0.0.1:PORT,
// prints "ready" once it accepts connections, exits 0 on SIGTERM or SIGINT.
//
// REQUEST_LOG gets one line per request, written when the response has been handed to the
// kernel ('finish'), by which time a PUT's object is stored and visible to any GET:
//   T_END_NS T_START_NS METHOD PATH STATUS ETAG
// Times are CLOCK_MONOTONIC nanoseconds (process.hrtime), the clock Python's
// time.monotonic_ns() reads, so the writer of a file and the server share one time line.
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const [supportDir, portArg, directory, requestLog, bucket] = process.argv.slice(2);
if (!supportDir || !portArg || !directory || !requestLog || !bucket) {
  process.stderr.write(
    'usage: node --openssl-legacy-provider s3rver.js SUPPORT_DIR PORT DATA_DIR REQUEST_LOG BUCKET\n',
  );
  process.exit(2);
}
const S3rver = createRequire(path.join(path.resolve(supportDir), 'package.json'))(
  '@20minutes/s3rver',
);

const logFd = fs.openSync(requestLog, 'a');

// Koa composes `middleware` when the server starts listening: putting this first makes it see
// every request, including the ones the routes reject (bad signature, missing key).
function requestLogger() {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    ctx.res.once('finish', () => {
      const end = process.hrtime.bigint();
      const etag = (ctx.response.get('ETag') || '-').replace(/"/g, '') || '-';
      fs.writeSync(logFd, `${end} ${start} ${ctx.method} ${ctx.path} ${ctx.status} ${etag}\n`);
    });
    await next();
  };
}

async function main() {
  const server = new S3rver({
    port: Number(portArg),
    address: '127.0.0.1',
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(requestLogger());

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    if (server.httpServer) server.httpServer.closeAllConnections();
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const address = await server.run();
  process.stdout.write(`ready ${address.address}:${address.port}\n`);
}

main().catch((err) => {
  process.stderr.write(`s3rver.js: ${err.stack || err}\n`);
  process.exit(1);
});
