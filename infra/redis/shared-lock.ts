import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

// Deletes the lock only while it is still ours: an expired lock may already belong to another holder.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Runs `work` while holding a Redis lock shared by every process of the deployment (SET NX PX, so
 * a holder that dies frees it after `ttlMs`). Returns null without running `work` when another
 * holder has the lock — the caller decides whether to wait for that holder's result.
 */
export async function withSharedLock<T>(redis: Redis, key: string, ttlMs: number, work: () => Promise<T>): Promise<{ value: T } | null> {
  const token = randomBytes(12).toString('hex');
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
  try {
    return { value: await work() };
  } finally {
    await redis.eval(RELEASE, 1, key, token);
  }
}
