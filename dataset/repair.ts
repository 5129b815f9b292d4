import type { ObjectStore } from '../infra/store/object-store.ts';
import { crawlSettingsKey, readJson } from '../infra/store/dataset-layout.ts';
import { SPLITS } from '../schemas/dataset.ts';
import { crawlJobSchema, type CrawlJob } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { shardStatsSchema } from '../schemas/stats.ts';
import { readManifest } from './finalise.ts';
import { transientlyLost } from './verify.ts';

export interface RepairPlan {
  /** One crawl per source of the manifest, as last submitted, re-planning from the first record. */
  crawls: CrawlJob[];
  /** `<split>/<shard>` whose stats counted clips lost to transient causes: their stats are removed, so they are redone. */
  transient: { shard: string; clips: number }[];
  /** `<split>/<shard>` with a tar or staged members but no stats. */
  unfinished: string[];
  /** `<split>/<shard>` done before the repair (after removing the transient ones). */
  done: Set<string>;
}

/** `<split>/<shard>` of every shard with stats, i.e. done. */
export async function finishedShards(store: ObjectStore): Promise<Set<string>> {
  const done = new Set<string>();
  for (const split of SPLITS) {
    for await (const object of store.list(`${split}/`)) {
      if (object.key.endsWith('_stats.json')) done.add(object.key.slice(0, -'_stats.json'.length));
    }
  }
  return done;
}

/**
 * Finds what a repair must redo and makes the object store say so: shards holding transient
 * failures lose their stats (the done marker), so a crawl re-planned from the start — the same
 * positional shards and keys, as the source is read in the same order — redoes exactly those, the
 * unfinished ones and any never written, and skips the rest.
 */
export async function prepareRepair(store: ObjectStore): Promise<RepairPlan> {
  const manifest = await readManifest(store);
  if (!manifest) throw new Error(`${store.uri} holds no manifest.json: nothing to repair (crawl it first)`);
  const crawls = [];
  for (const source of manifest.sources) {
    const key = crawlSettingsKey(source.name);
    if (!(await store.exists(key))) {
      throw new Error(`${store.uri} lacks ${key} (written by clapset ≥ this version's crawl); rerun the crawl of ${source.name} with --resume instead`);
    }
    crawls.push({ ...parseOrThrow(crawlJobSchema, await readJson(store, key), key), fromStart: true });
  }

  const done = await finishedShards(store);
  const transient: RepairPlan['transient'] = [];
  for (const shard of [...done].sort()) {
    const key = `${shard}_stats.json`;
    const lost = transientlyLost(parseOrThrow(shardStatsSchema, await readJson(store, key), key));
    if (lost.length === 0) continue;
    await store.delete([key]);
    done.delete(shard);
    transient.push({ shard, clips: lost.length });
  }
  const unfinished = new Set<string>();
  for (const split of SPLITS) {
    for await (const object of store.list(`${split}/`)) {
      if (object.key.endsWith('.tar')) unfinished.add(object.key.slice(0, -'.tar'.length));
    }
    for await (const object of store.list(`_staging/${split}/`)) unfinished.add(object.key.split('/').slice(1, 3).join('/'));
  }
  for (const shard of [...done, ...transient.map((t) => t.shard)]) unfinished.delete(shard);
  return { crawls, transient, unfinished: [...unfinished].sort(), done };
}
