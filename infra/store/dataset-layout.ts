import type { ShardRef } from '../../schemas/dataset.ts';
import type { ObjectStore } from './object-store.ts';

/** Where each object of a dataset lives, relative to its root: shared by the workers that write shards and the commands that read them. */
export const MANIFEST_KEY = 'manifest.json';
export const STATS_KEY = 'stats.json';
/** The crawl job of a source as last submitted: `repair` re-plans the same shards from it. */
export const crawlSettingsKey = (source: string) => `_crawl/${source}.crawl.json`;
/** A resumable source's crawl checkpoint (schemas/checkpoint.ts), and the segments holding the provider ids it has seen. */
export const crawlCheckpointKey = (source: string) => `_crawl/${source}.checkpoint.json`;
export const seenSegmentsPrefix = (source: string) => `_crawl/${source}.seen/`;
export const seenSegmentKey = (source: string, index: number) => `${seenSegmentsPrefix(source)}${String(index).padStart(6, '0')}.json`;

export async function readJson(store: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse((await store.getBuffer(key)).toString('utf8'));
}

export function shardName(source: string, index: number): string {
  return `${source}-${String(index).padStart(6, '0')}`;
}

/** Object keys of a shard's files, relative to the dataset root. */
export function shardKeys(ref: ShardRef) {
  const base = `${ref.split}/${ref.name}`;
  return {
    tar: `${base}.tar`,
    stats: `${base}_stats.json`,
    staging: `_staging/${ref.split}/${ref.name}/`,
  };
}

