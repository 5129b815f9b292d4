import type { ObjectStore } from '../infra/store/object-store.ts';
import { SPLITS } from '../schemas/dataset.ts';
import { datasetManifestSchema, type DatasetManifest } from '../schemas/manifest.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { shardStatsSchema, type DatasetStats, type ShardStats } from '../schemas/stats.ts';
import { renderDatasetCard } from './dataset-card.ts';
import { emptyTally, LENGTH_BIN_EDGES, mergeTally, sumCounts } from './tally.ts';

export const MANIFEST_KEY = 'manifest.json';
export const STATS_KEY = 'stats.json';

export async function readJson(store: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse((await store.getBuffer(key)).toString('utf8'));
}

export async function readManifest(store: ObjectStore): Promise<DatasetManifest | null> {
  if (!(await store.exists(MANIFEST_KEY))) return null;
  return parseOrThrow(datasetManifestSchema, await readJson(store, MANIFEST_KEY), MANIFEST_KEY);
}

/** Every finished shard's stats, per split, in shard-name order. */
export async function readAllShardStats(store: ObjectStore): Promise<ShardStats[]> {
  const all: ShardStats[] = [];
  for (const split of SPLITS) {
    for await (const object of store.list(`${split}/`)) {
      if (!object.key.endsWith('_stats.json')) continue;
      all.push(parseOrThrow(shardStatsSchema, await readJson(store, object.key), object.key));
    }
  }
  return all;
}

/** What a roll-up needs of a shard's stats (live statistics keep only this much). */
export type ShardSummary = Pick<ShardStats, 'shard' | 'split' | 'source' | 'count' | 'successes' | 'tally'>;

/** Pure roll-up of shard stats into the dataset's `stats.json`. */
export function aggregateStats(shards: readonly ShardSummary[], now = new Date()): DatasetStats {
  const sources: DatasetStats['sources'] = {};
  const splits: DatasetStats['splits'] = {};
  for (const shard of shards) {
    const source = (sources[shard.source] ??= { ...emptyTally(), hours: 0, clips: 0 });
    mergeTally(source, shard.tally);
    source.clips += shard.count;
    const split = (splits[shard.split] ??= { shards: 0, samples: 0 });
    split.shards++;
    split.samples += shard.successes;
  }
  for (const source of Object.values(sources)) source.hours = source.seconds / 3600;
  const all = Object.values(sources);
  return {
    generated_at: now.toISOString(),
    length_bin_edges_seconds: [...LENGTH_BIN_EDGES],
    totals: {
      shards: shards.length,
      samples: all.reduce((n, s) => n + s.samples, 0),
      failed: all.reduce((n, s) => n + sumCounts(s.failed), 0),
      filtered: all.reduce((n, s) => n + sumCounts(s.filtered), 0),
      hours: all.reduce((n, s) => n + s.hours, 0),
    },
    splits,
    sources,
  };
}

/**
 * Writes `sizes.json` per split, `stats.json` and the dataset card from the shard stats alone —
 * the object store is the source of truth, so this can run again at any time with the same result.
 */
export async function finaliseDataset(store: ObjectStore): Promise<DatasetStats> {
  const shards = await readAllShardStats(store);
  for (const split of SPLITS) {
    const sizes = Object.fromEntries(shards.filter((s) => s.split === split).map((s) => [s.tar, s.successes]));
    if (Object.keys(sizes).length > 0) await store.put(`${split}/sizes.json`, JSON.stringify(sizes, null, 1));
  }
  const stats = aggregateStats(shards);
  await store.put(STATS_KEY, JSON.stringify(stats, null, 1), { contentType: 'application/json' });
  const manifest = await readManifest(store);
  await store.put('README.md', renderDatasetCard({ stats, manifest, shards, locate: (key) => store.locate(key) }), {
    contentType: 'text/markdown',
  });
  return stats;
}
