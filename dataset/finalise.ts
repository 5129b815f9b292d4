import { fileURLToPath } from 'node:url';
import { LocalStore } from '../infra/store/local-store.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { S3Store } from '../infra/store/s3-store.ts';
import { SPLITS } from '../schemas/dataset.ts';
import { datasetManifestSchema, type DatasetManifest } from '../schemas/manifest.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { shardStatsSchema, sizesSchema, type DatasetStats, type ShardStats } from '../schemas/stats.ts';
import { renderDatasetCard } from './dataset-card.ts';
import type { ShardHome } from './shard-urls.ts';
import { aggregateStats } from '../workers/shard/tally.ts';
import { MANIFEST_KEY, readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

export async function readManifest(store: ObjectStore): Promise<DatasetManifest | null> {
  if (!(await store.exists(MANIFEST_KEY))) return null;
  return parseOrThrow(datasetManifestSchema, await readJson(store, MANIFEST_KEY), MANIFEST_KEY);
}

/** Records the http(s) base the dataset is served from in manifest.json, for the next card (and `clapset urls`). */
export async function recordPublicUrl(store: ObjectStore, publicUrl: string): Promise<void> {
  const manifest = await readManifest(store);
  if (manifest === null) throw new Error(`no ${MANIFEST_KEY} in ${store.uri}: a public URL is recorded there, so crawl into the dataset first`);
  const updated = parseOrThrow(datasetManifestSchema, { ...manifest, dataset: { ...manifest.dataset, publicUrl } }, 'public URL');
  await store.put(MANIFEST_KEY, JSON.stringify(updated, null, 1), { contentType: 'application/json' });
}

/** A split's shard file names from its sizes.json (what LAION-CLAP's loader reads), or null before finalisation. */
export async function readShardNames(store: ObjectStore, split: string): Promise<string[] | null> {
  const key = `${split}/sizes.json`;
  if (!(await store.exists(key))) return null;
  return Object.keys(parseOrThrow(sizesSchema, await readJson(store, key), key));
}

/** Where a store's shards are, for reader-facing URLs (the endpoint is the one the store writes through). */
export function shardHomeOf(store: ObjectStore): ShardHome {
  if (store instanceof S3Store) return { kind: 's3', bucket: store.bucket, prefix: store.prefix, endpoint: store.endpoint };
  if (store instanceof LocalStore) return { kind: 'local', root: fileURLToPath(store.uri) };
  throw new Error(`no reader URLs for the store at ${store.uri}`);
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
  await store.put('README.md', renderDatasetCard({ stats, manifest, shards, home: shardHomeOf(store) }), {
    contentType: 'text/markdown',
  });
  return stats;
}
