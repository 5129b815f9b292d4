// A real S3-compatible server (s3rver) in a child process on loopback, for tests. A separate process
// keeps the server's event loop and memory out of the measurements of the process under test, and
// lets tests that spawn clapset workers point them at it through plain environment variables.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface S3ServerHandle {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  bucket: string;
  /** What a process needs to reach the server: credentials s3rver accepts, region, endpoint, path style. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./s3rver-process.ts', import.meta.url));
// Absolute, so the child finds tsx whatever the current directory of the test is.
const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 20_000;

// One exit hook for all servers: a test that forgets stop() (or throws first) still leaves no process behind.
const running = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, directory] of running) {
    child.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
});

/**
 * Starts s3rver with one bucket (3+ characters, S3 naming rules) and resolves once it answers HTTP.
 * With `directory` (and `port`) it serves that data and leaves it behind on stop, so a test can take
 * storage away and bring the same server back (the caller removes the folder).
 */
export async function startS3Server(options: { bucket?: string; directory?: string; port?: number } = {}): Promise<S3ServerHandle> {
  const bucket = options.bucket ?? 'clapset-test';
  const keep = options.directory !== undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'clapset-s3rver-')));
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers through
  // its legacy provider; without it every second page of a listing is an HTTP 500.
  const nodeArgs = ['--openssl-legacy-provider', '--import', TSX_LOADER, CHILD_SCRIPT, directory, bucket, String(options.port ?? 0), ...(keep ? ['keep'] : [])];
  const child = spawn(process.execPath, nodeArgs, {
    // stdin stays open as a lifeline: the child exits when it closes (i.e. when this process dies).
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (!keep) running.set(child, directory);

  const stop = async (): Promise<void> => {
    await terminate(child);
    running.delete(child);
    if (!keep) await rm(directory, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };

  try {
    const port = await readPort(child);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(`${endpoint}/${bucket}`);
    // Once up, the server must not keep this process alive on its own: a test process that ends
    // without stop() exits normally, and the exit hook and the stdin lifeline take the child down.
    for (const handle of [child, child.stdin, child.stdout, child.stderr]) (handle as Socket | ChildProcess | null)?.unref();
    return {
      endpoint,
      bucket,
      env: {
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
        CLAPSET_S3_ENDPOINT: endpoint,
        CLAPSET_S3_FORCE_PATH_STYLE: 'true',
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`s3rver did not start: ${why}${stderr ? `\n${stderr.slice(-2000)}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no port reported within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === 'number') resolve(port);
      else reject(new Error(`s3rver reported an odd start line: ${line}`));
    });
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}

async function waitUntilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      // Any HTTP answer (an anonymous HEAD on the bucket gets 200 from s3rver) means it serves requests.
      await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(2000) });
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`s3rver at ${url} never answered: ${String(last)}`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref(); // keep the loop alive until the exit event arrives
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
}
