// Starts @20minutes/s3rver for cfgsync's integration tests.
//
// Usage: node --openssl-legacy-provider s3rver.js PORT DIR [BUCKET...]
// Listens on 127.0.0.1:PORT (path-style only), stores objects under DIR, creates the buckets,
// prints "ready" on stdout once it accepts connections, and exits 0 on SIGTERM or SIGINT.
// The flag is needed on Node 17+: s3rver's ListObjectsV2 continuation tokens use DES.
'use strict';

const S3rver = require('@20minutes/s3rver');

function usage(message) {
  process.stderr.write(`s3rver.js: ${message}\n`);
  process.stderr.write('usage: node --openssl-legacy-provider s3rver.js PORT DIR [BUCKET...]\n');
  process.exit(2);
}

async function main() {
  const [portArg, directory, ...buckets] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) usage(`bad port "${portArg}"`);
  if (!directory) usage('missing data directory');

  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    if (server.httpServer) server.httpServer.closeAllConnections();
    server.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`s3rver.js: close after ${signal}: ${err.message}\n`);
        process.exit(0);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await server.run();
  process.stdout.write(`ready ${address.address}:${address.port}\n`);
}

main().catch((err) => {
  process.stderr.write(`s3rver.js: ${err.stack || err}\n`);
  process.exit(1);
});
