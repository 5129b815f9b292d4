import type { Redis } from 'ioredis';
import { datasetId } from '../../infra/queues.ts';
import type { ClipResult } from '../../schemas/jobs.ts';
import type { DatasetStats, ShardStats } from '../../schemas/stats.ts';
import { aggregateStats, type ShardSummary } from './tally.ts';

/** Recent failures kept per dataset for the dashboard. */
const RECENT_FAILURES = 200;

export interface RecentFailure {
  time: string;
  shard: string;
  key: string;
  id: string;
  reason: string;
  message: string;
}

const keys = (prefix: string, uri: string) => {
  const base = `${prefix}:live:${datasetId(uri)}`;
  return { shards: `${base}:shards`, failures: `${base}:failures`, datasets: `${prefix}:live:datasets` };
};

/**
 * Live statistics while a crawl runs: each finished shard's summary is stored under its name (so a
 * retried shard job counts once) and its failures are pushed to a capped list. The dashboard sums
 * the summaries; finalisation recomputes the same sums from the shard stats in the object store.
 */
export async function recordShardLive(redis: Redis, prefix: string, uri: string, stats: ShardStats, results: readonly ClipResult[]): Promise<void> {
  const k = keys(prefix, uri);
  const summary: ShardSummary = { shard: stats.shard, split: stats.split, source: stats.source, count: stats.count, successes: stats.successes, tally: stats.tally };
  const failures = results
    .filter((r) => r.status === 'failed')
    .map((r) => JSON.stringify({ time: stats.end_time, shard: `${stats.split}/${stats.shard}`, key: r.key, id: r.id, reason: r.reason, message: r.message } satisfies RecentFailure));
  const multi = redis.multi().hset(k.shards, `${stats.split}/${stats.shard}`, JSON.stringify(summary)).sadd(k.datasets, uri);
  if (failures.length > 0) multi.lpush(k.failures, ...failures).ltrim(k.failures, 0, RECENT_FAILURES - 1);
  await multi.exec();
}

/** Finished shards' summaries by `<split>/<shard>`, in name order. */
export async function readLiveShards(redis: Redis, prefix: string, uri: string): Promise<[string, ShardSummary][]> {
  return Object.entries(await redis.hgetall(keys(prefix, uri).shards))
    .map(([name, json]): [string, ShardSummary] => [name, JSON.parse(json) as ShardSummary])
    .sort(([a], [b]) => a.localeCompare(b));
}

export async function readLiveStats(redis: Redis, prefix: string, uri: string): Promise<DatasetStats> {
  return aggregateStats((await readLiveShards(redis, prefix, uri)).map(([, summary]) => summary));
}

export async function readRecentFailures(redis: Redis, prefix: string, uri: string, limit = 50): Promise<RecentFailure[]> {
  return (await redis.lrange(keys(prefix, uri).failures, 0, limit - 1)).map((json) => JSON.parse(json) as RecentFailure);
}

/** Datasets that have had live statistics recorded under this prefix. */
export async function liveDatasets(redis: Redis, prefix: string): Promise<string[]> {
  return (await redis.smembers(keys(prefix, '').datasets)).sort();
}
