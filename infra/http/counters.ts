/**
 * Politeness counters per provider, in Redis so that every worker adds to the same numbers and a
 * dashboard (or `clapset status`) can read them: `<prefix>:http:<provider>` is a hash of counter →
 * count, and `<prefix>:http:providers` the set of providers that have any.
 */
import type { Redis } from 'ioredis';

export const HTTP_COUNTERS = [
  'requests', // HTTP exchanges sent (each redirect hop and retry counts)
  'throttled', // requests our own limiter made wait
  'http_429', // 429 answers received (the provider throttled us)
  'backoffs', // retries slept for (429, 5xx, network errors)
  'retries_exhausted', // requests given up after the last retry
  'redirects_refused', // redirects to a host outside the provider's allowed hosts
  'hosts_refused', // requests to such a host (e.g. an audio URL in hostile metadata)
  'robots_excluded', // clips excluded by X-Robots-Tag noai/noml
  'too_large', // downloads over the size cap
  'quota_exhausted', // requests refused because a long window (daily quota) was spent
] as const;
export type HttpCounter = (typeof HTTP_COUNTERS)[number];

export function countersKey(prefix: string, provider: string): string {
  return `${prefix}:http:${provider}`;
}

export async function incrementCounter(redis: Redis, prefix: string, provider: string, counter: HttpCounter, by = 1): Promise<void> {
  if (by === 0) return;
  await redis.multi().hincrby(countersKey(prefix, provider), counter, by).sadd(`${prefix}:http:providers`, provider).exec();
}

/** Every provider's counters (absent counters read 0). */
export async function readHttpCounters(redis: Redis, prefix: string): Promise<Record<string, Record<HttpCounter, number>>> {
  const providers = (await redis.smembers(`${prefix}:http:providers`)).sort();
  const out: Record<string, Record<HttpCounter, number>> = {};
  for (const provider of providers) out[provider] = await readProviderCounters(redis, prefix, provider);
  return out;
}

export async function readProviderCounters(redis: Redis, prefix: string, provider: string): Promise<Record<HttpCounter, number>> {
  const hash = await redis.hgetall(countersKey(prefix, provider));
  return Object.fromEntries(HTTP_COUNTERS.map((name) => [name, Number(hash[name] ?? 0)])) as Record<HttpCounter, number>;
}
