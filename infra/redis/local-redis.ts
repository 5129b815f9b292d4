import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { redisAnswers } from './connection.ts';

export interface RedisHandle {
  url: string;
  /** Set when this process started the server; it stops it on `stop()`. */
  started: boolean;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Uses the Redis at `url` when it answers; otherwise, for the embedded defaults, starts a private
 * in-memory `redis-server` on a free loopback port. Without the binary the error says how to get one.
 */
export async function ensureRedis(url: string, options: { allowStart: boolean; binary?: string }): Promise<RedisHandle> {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => {} };
  if (!options.allowStart) throw new Error(`Redis does not answer at ${url}. Start one, or set CLAPSET_REDIS_URL.`);
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = await new Promise<ChildProcess>((resolve, reject) => {
      const proc = spawn(options.binary ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      proc.once('error', reject);
      proc.once('spawn', () => resolve(proc));
    });
  } catch (error) {
    throw new Error(
      `Redis does not answer at ${url}, and no redis-server binary could be started (${(error as Error).message}). ` +
        'Install one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set CLAPSET_REDIS_URL.',
      { cause: error },
    );
  }
  const localUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(localUrl, 500)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers(localUrl))) {
    child.kill('SIGKILL');
    throw new Error(`started redis-server on port ${port}, but it never answered`);
  }
  return {
    url: localUrl,
    started: true,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
