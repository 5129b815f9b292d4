// Child-process entry for `startS3Server` (see s3-server.ts). Runs s3rver on 127.0.0.1 and prints one
// JSON line `{"port": N}` on stdout once it listens. Arguments: <directory> <bucket> [port] [keep].
// It exits, removing <directory> (unless `keep`: a test restarting the server on the same data), when
// its stdin closes: a parent that dies without calling stop() leaves no orphan server behind.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: Buffer[] }[];
}) => S3rverInstance;

// s3rver is CommonJS without type declarations; load it through require and type the little we use.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

const [directory, bucket, portArg, keep] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: s3rver-process.ts <directory> <bucket>');
  process.exit(2);
}

const server = new S3rver({
  // S3RVER_ADDRESS: the multi-host test serves on a veth address inside its own network namespace.
  address: process.env.S3RVER_ADDRESS ?? '127.0.0.1',
  port: Number(portArg ?? 0),
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

const shutDown = (): void => {
  // The data directory is this server's alone (a fresh temp dir), so it goes with it; exiting at
  // once rather than close()ing, which would wait for idle keep-alive sockets.
  if (keep !== 'keep') rmSync(directory, { recursive: true, force: true });
  process.exit(0);
};
process.stdin.on('end', shutDown);
process.stdin.on('close', shutDown);
process.stdin.resume();
process.on('SIGTERM', shutDown);
process.on('SIGINT', shutDown);
