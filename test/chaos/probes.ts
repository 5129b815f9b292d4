/**
 * What the chaos run looks at besides the dataset: the dashboard (token, leaks), every object in
 * the bucket (where it lives, leaks, staging left over), the worker logs, the HTTP counters across
 * the Redis wipe, and the providers' own view of our request rate.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDashboard } from '../../dashboard/server.ts';
import type { HttpCounter } from '../../infra/http/counters.ts';
import type { QueueContext } from '../../infra/queues.ts';
import { safeKey, type ObjectStore } from '../../infra/store/object-store.ts';
import type { Config } from '../../schemas/config.ts';
import type { SlidingWindowCounter } from '../../demo/providers/common.ts';
import { countSecrets } from './accounting.ts';
import type { Rates } from './providers.ts';

export type Counters = Record<string, Record<HttpCounter, number>>;

/** Reads /api/overview and /metrics (with the token) every 2 s until stopped (or `until`), counting secrets in the answers. */
export function pollDashboard(url: string, token: string, secrets: readonly string[], until: number) {
  let stopped = false;
  let leaks = 0;
  let responses = 0;
  const read = async () => {
    for (const path of ['/api/overview', '/metrics']) {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
      responses++;
      leaks += countSecrets(await response.text(), secrets);
    }
  };
  const loop = (async () => {
    while (!stopped && Date.now() < until) {
      await read().catch(() => {}); // a dashboard request failing under S3 faults is not a leak
      for (let waited = 0; waited < 2000 && !stopped; waited += 100) await sleep(100);
    }
    await read(); // once more at the end, with every shard done: this one must succeed
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { leaks, responses };
    },
  };
}

/** Beyond loopback the dashboard refuses to start without a token; with one, requests without it get 401. */
export async function checkDashboardToken(url: string, token: string, ctx: QueueContext, config: Config) {
  // Refused before it binds anything, so nothing listens beyond loopback even for a moment.
  const refusedBindWithoutToken = await startDashboard({ ctx, config, host: '0.0.0.0', port: 0, token: null, datasets: [] }).then(
    async (d) => (await d.close(), false),
    (error: Error) => /without a token/.test(error.message),
  );
  const status = async (path: string, headers: Record<string, string> = {}) => (await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(20_000) })).status;
  const bearer = { authorization: `Bearer ${token}` };
  return {
    refusedBindWithoutToken,
    withoutToken: [await status('/api/overview'), await status('/metrics'), await status('/api/overview', { authorization: 'Bearer wrong-token' })],
    withToken: [await status('/api/overview', bearer), await status('/metrics', bearer)],
  };
}

/**
 * Every object in the bucket (a store at its root): keys outside `prefix` or not safe keys, staged
 * members left behind per shard, and secrets in any object's bytes.
 */
export async function inspectBucket(bucket: ObjectStore, prefix: string, secrets: readonly string[]) {
  const escapedKeys: string[] = [];
  const stagingLeft: Record<string, number> = {};
  let objects = 0;
  let leaks = 0;
  for await (const object of bucket.list('')) {
    objects++;
    if (!object.key.startsWith(prefix) || !isSafe(object.key)) escapedKeys.push(object.key);
    const shard = /^_staging\/([^/]+\/[^/]+)\//.exec(object.key.slice(prefix.length))?.[1];
    if (shard) stagingLeft[shard] = (stagingLeft[shard] ?? 0) + 1;
    leaks += countSecrets(await bucket.getBuffer(object.key), secrets);
  }
  return { objects, escapedKeys, stagingLeft, leaks };
}

/** Secrets in the worker logs, and how many job attempts failed (each retried by BullMQ). */
export async function scanLogs(dir: string, secrets: readonly string[]) {
  let leaks = 0;
  let jobAttemptsFailed = 0;
  for (const file of await readdir(dir)) {
    const text = await readFile(join(dir, file), 'utf8');
    leaks += countSecrets(text, secrets);
    jobAttemptsFailed += text.split('"job attempt failed"').length - 1;
  }
  return { leaks, jobAttemptsFailed };
}

/** Counter snapshots added up per provider (the one taken before Redis lost its keys, and the final one). */
export function sumCounters(...snapshots: (Counters | null)[]): Counters {
  const out: Counters = {};
  for (const snapshot of snapshots) {
    for (const [provider, counters] of Object.entries(snapshot ?? {})) {
      const into = out[provider];
      if (!into) out[provider] = { ...counters };
      else for (const [name, n] of Object.entries(counters) as [HttpCounter, number][]) into[name] += n;
    }
  }
  return out;
}

export function sumCounter(counters: Counters, name: HttpCounter): number {
  return Object.values(counters).reduce((n, c) => n + c[name], 0);
}

/** A fixture's view of our request rate; `violationsAt` in seconds into the run (the first few). */
export function windowStats(counter: SlidingWindowCounter, started: number) {
  const violationsAt = counter.violationTimes.slice(0, 5).map((t) => Math.round((t - started) / 100) / 10);
  return { requests: counter.total, maxInWindow: counter.max, limit: counter.limit, violations: counter.violations, violationsAt };
}

/**
 * Waits (at most `maxMs`) for a moment when some provider's rate-limit window is (nearly) full — the
 * worst moment for Redis to lose its keys, since the limiter's memory of that window goes with
 * them. Returns the provider, or null when none filled up in time. Keys as docs/http.md names them.
 */
export async function awaitFullWindow(ctx: QueueContext, rates: Rates, maxMs: number, fill = 0.8): Promise<string | null> {
  const windows: [string, number][] = [['bbc', rates.bbc.limit], ['freesound-media', rates.freesoundMedia.limit], ['freesound', rates.freesoundApi.limit]];
  for (const until = Date.now() + maxMs; Date.now() < until; await sleep(20)) {
    for (const [provider, limit] of windows) if ((await ctx.connection.zcard(`${ctx.prefix}:ratelimit:${provider}`)) >= Math.ceil(limit * fill)) return provider;
  }
  return null;
}

/** Shards whose done marker exists: the run's progress. */
export async function countDoneShards(store: ObjectStore): Promise<number> {
  let n = 0;
  for (const split of ['train/', 'test/']) for await (const object of store.list(split)) if (object.key.endsWith('_stats.json')) n++;
  return n;
}

function isSafe(key: string): boolean {
  try {
    safeKey(key);
    return true;
  } catch {
    return false;
  }
}
