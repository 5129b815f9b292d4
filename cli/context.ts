import { resolve } from 'node:path';
import { configFromEnv, type Config } from '../schemas/config.ts';
import { connectRedis, redisAnswers } from '../infra/redis/connection.ts';
import type { QueueContext } from '../infra/queues.ts';

/** Opens the Redis connection the CLI commands share, with a clear error when Redis is absent. */
export async function openQueueContext(config: Config = configFromEnv()): Promise<QueueContext & { close(): Promise<void> }> {
  if (!(await redisAnswers(config.redisUrl))) {
    throw new Error(`Redis does not answer at ${config.redisUrl}. Start one (redis-server), or set CLAPSET_REDIS_URL.`);
  }
  const connection = connectRedis(config.redisUrl);
  return { connection, prefix: config.prefix, close: async () => void (await connection.quit()) };
}

/** Dataset URIs name S3 locations as they are and local folders by absolute path, the same on every host. */
export function normaliseDatasetUri(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) return uri.replace(/\/+$/, '');
  return resolve(uri.startsWith('file://') ? new URL(uri).pathname : uri);
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${JSON.stringify(value)}`);
  return n;
}
