// A private redis-server for tests that need one configured otherwise than the shared Redis (which
// must never be reconfigured): an evicting policy, a password, AOF, a restart on the same port.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { redisAnswers } from '../../infra/redis/connection.ts';

export interface RedisServerHandle {
  url: string;
  port: number;
  /** SHUTDOWN-like stop (SIGTERM: Redis writes its AOF/RDB and exits). */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts `redis-server` on loopback with `args` added; resolves once it answers PING. */
export async function startRedisServer(options: { port?: number; args?: string[]; password?: string } = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...(options.password ? ['--requirepass', options.password] : []), ...(options.args ?? [])];
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`;
  for (let i = 0; i < 200 && !(await redisAnswers(url, 300)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await redisAnswers(url))) {
    child.kill('SIGKILL');
    throw new Error(`redis-server ${args.join(' ')} never answered`);
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
