import type { Job, Queue } from 'bullmq';
import { crawlJobSchema, type CrawlJob } from '../schemas/jobs.ts';
import type { DatasetManifest } from '../schemas/manifest.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { log } from '../infra/log.ts';
import { createSource } from '../sources/registry.ts';
import { enqueueShard, type ShardQueues } from './enqueue-shard.ts';
import { finaliseDataset, MANIFEST_KEY, readManifest } from './finalise.ts';
import { planShards, shardKeys, type PlannedShard, type PlanTally } from './shard-plan.ts';
import { CLAPSET_VERSION } from './version.ts';

export interface CrawlProgress {
  records: number;
  duplicates: number;
  shardsPlanned: number;
  shardsSkipped: number;
  shardsDone: number;
  shardsFailed: number;
}

export interface CrawlSummary extends CrawlProgress {
  samples: number;
  failed: number;
  filtered: number;
  hours: number;
}

type CrawlJobHandle = Pick<Job, 'data' | 'updateProgress'>;

/**
 * The `crawl` job: pages through the source, cuts positional shards, skips those whose stats
 * already exist (resume), and adds the rest as flows while keeping at most `maxShardsInFlight`
 * outstanding (back-pressure: Redis never holds more than that, however large the source). Once
 * every shard is done it finalises the dataset.
 */
export async function processCrawlJob(job: CrawlJobHandle, store: ObjectStore, queues: ShardQueues & { shardQueue: Queue }): Promise<CrawlSummary> {
  const data = parseOrThrow(crawlJobSchema, job.data, 'crawl job');
  await recordSourceInManifest(store, data);
  const source = createSource(data.source);
  const tally: PlanTally = { records: 0, duplicates: 0 };
  const progress: CrawlProgress = { records: 0, duplicates: 0, shardsPlanned: 0, shardsSkipped: 0, shardsDone: 0, shardsFailed: 0 };
  const outstanding = new Map<string, PlannedShard>();
  const failures: string[] = [];
  const report = async () => {
    progress.records = tally.records;
    progress.duplicates = tally.duplicates;
    await job.updateProgress({ ...progress });
  };

  // Settles the outstanding shards whose jobs have finished; re-adds any that vanished unfinished
  // (e.g. Redis lost its keys), since the object store says they are not done.
  const settle = async () => {
    for (const [id, shard] of outstanding) {
      const state = await queues.shardQueue.getJobState(id);
      if (state === 'completed' || state === 'unknown') {
        if (await store.exists(shardKeys(shard.ref).stats)) {
          outstanding.delete(id);
          progress.shardsDone++;
        } else if (state === 'unknown') {
          log.warn('shard job vanished before finishing; adding it again', { shard: shard.ref.name });
          await enqueueShard(queues, data.dataset, data.source, shard);
        }
      } else if (state === 'failed') {
        const failed = await queues.shardQueue.getJob(id);
        failures.push(`${shard.ref.split}/${shard.ref.name}: ${failed?.failedReason ?? 'unknown reason'}`);
        outstanding.delete(id);
        progress.shardsFailed++;
      }
    }
    await report();
  };
  const wait = () => new Promise((r) => setTimeout(r, 100));

  for await (const shard of planShards(source.records(), data.dataset, data.source.name, { limit: data.limit, tally })) {
    progress.shardsPlanned++;
    if (await store.exists(shardKeys(shard.ref).stats)) {
      progress.shardsSkipped++;
      continue;
    }
    while (outstanding.size >= data.maxShardsInFlight) {
      await settle();
      if (outstanding.size >= data.maxShardsInFlight) await wait();
    }
    outstanding.set(await enqueueShard(queues, data.dataset, data.source, shard), shard);
    await report();
  }
  while (outstanding.size > 0) {
    await settle();
    if (outstanding.size > 0) await wait();
  }
  if (failures.length > 0) {
    throw new Error(`${failures.length} shard(s) failed; rerun the crawl with --resume to retry them: ${failures.join(' | ')}`);
  }
  const stats = await finaliseDataset(store);
  const own = stats.sources[data.source.name];
  return {
    ...progress,
    samples: own?.samples ?? 0,
    failed: own ? Object.values(own.failed).reduce((a, b) => a + b, 0) : 0,
    filtered: own ? Object.values(own.filtered).reduce((a, b) => a + b, 0) : 0,
    hours: own?.hours ?? 0,
  };
}

/** Keeps `manifest.json` listing every source crawled into the dataset, with the dataset settings. */
async function recordSourceInManifest(store: ObjectStore, data: CrawlJob): Promise<void> {
  const existing = await readManifest(store);
  if (existing) {
    const planning = (d: CrawlJob['dataset']) => JSON.stringify([d.shardSize, d.testFraction, d.splitSeed]);
    if (planning(existing.dataset) !== planning(data.dataset)) {
      throw new Error(
        `dataset ${store.uri} was planned with shard size ${existing.dataset.shardSize}, test fraction ` +
          `${existing.dataset.testFraction} and split seed "${existing.dataset.splitSeed}"; resuming with other values would re-cut its shards`,
      );
    }
  }
  const manifest: DatasetManifest = {
    format: 'clapset/webdataset-v1',
    clapset_version: CLAPSET_VERSION,
    updated_at: new Date().toISOString(),
    dataset: data.dataset,
    sources: [...(existing?.sources ?? []).filter((s) => s.name !== data.source.name), data.source],
    audio: { sample_rate: 48000, channels: 1, codec: 'flac' },
    members: ['flac', 'json'],
  };
  await store.put(MANIFEST_KEY, JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
}
