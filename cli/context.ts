import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { configFromEnv, type Config } from '../schemas/config.ts';
import { connectRedis, redisAnswers } from '../infra/redis/connection.ts';
import type { QueueContext } from '../infra/queues.ts';
import { redact } from '../infra/log.ts';

/** Opens the Redis connection the CLI commands share, with a clear error when Redis is absent. */
export async function openQueueContext(config: Config = configFromEnv()): Promise<QueueContext & { close(): Promise<void> }> {
  if (!(await redisAnswers(config.redisUrl))) {
    throw new Error(`Redis does not answer at ${redact(config.redisUrl)}. Start one (redis-server), or set CLAPSET_REDIS_URL.`);
  }
  const connection = connectRedis(config.redisUrl);
  return { connection, prefix: config.prefix, close: async () => void (await connection.quit()) };
}

/** Dataset URIs name S3 locations as they are and local folders by absolute path, the same on every host. */
export function normaliseDatasetUri(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) return uri.replace(/\/+$/, '');
  return resolve(uri.startsWith('file://') ? new URL(uri).pathname : uri);
}

/**
 * Commander argument parsers for numeric options: commander refuses a bad value naming the option
 * ("error: option '--watch [seconds]' argument 'abc' is invalid. not a number") before any work;
 * ranges stay in the schemas, whose errors name the field.
 */
export function numberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number.');
  return n;
}

export function integerArg(value: string): number {
  const n = numberArg(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('not a whole number.');
  return n;
}

export function positiveArg(value: string): number {
  const n = numberArg(value);
  if (n <= 0) throw new InvalidArgumentError('must be greater than 0.');
  return n;
}

export function positiveIntegerArg(value: string): number {
  return positiveArg(String(integerArg(value)));
}
