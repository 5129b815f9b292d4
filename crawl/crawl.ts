import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { crawlJobSchema, type CrawlJob } from '../schemas/jobs.ts';
import type { DatasetManifest } from '../schemas/manifest.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { errorMessage, log } from '../infra/log.ts';
import { datasetId } from '../infra/queues.ts';
import { withSharedLock } from '../infra/redis/shared-lock.ts';
import { mapPool } from '../infra/pool.ts';
import { createSource } from '../sources/registry.ts';
import { crawlCheckpointSchema, seenSegmentSchema, type CrawlCheckpoint, type SeenSegment } from '../schemas/checkpoint.ts';
import type { ExcludedCounts } from '../schemas/exclusions.ts';
import { finaliseWithExclusions, planExcluding } from './crawl-exclusions.ts';
import { noneExcluded } from './exclusion-rules.ts';
import { enqueueShard, type ShardQueues } from './enqueue-shard.ts';
import { readManifest } from '../dataset/finalise.ts';
import { planShards, withoutCursors, type PlanCheckpoint, type PlannedShard, type PlanTally } from './shard-plan.ts';
import { CLAPSET_VERSION } from '../infra/version.ts';
import { CLAP_EMBEDDING_DIM } from '../workers/embed/layout.ts';
import { crawlCheckpointKey, crawlSettingsKey, MANIFEST_KEY, readJson, seenSegmentKey, seenSegmentsPrefix, shardKeys } from '../infra/store/dataset-layout.ts';
import { isResumable, type SourceContext } from '../sources/source.ts';
import { isTransientError, transientDelayMs } from '../workers/transient.ts';

export interface CrawlProgress {
  records: number;
  duplicates: number;
  shardsPlanned: number;
  shardsSkipped: number;
  shardsDone: number;
  shardsFailed: number;
  /** Records left out at crawl time (licence or id exclusions), by reason. */
  excluded: ExcludedCounts;
}

export interface CrawlSummary extends CrawlProgress {
  samples: number;
  failed: number;
  filtered: number;
  hours: number;
}

type CrawlJobHandle = Pick<Job, 'data' | 'updateProgress'>;

/** The crawl was asked to stop (its worker drains): it saved its checkpoint and can be continued by another worker. */
export class CrawlStopped extends Error {
  constructor() {
    super('crawl stopped for a worker shutdown; checkpoint saved');
    this.name = 'CrawlStopped';
  }
}

/**
 * The `crawl` job: pages through the source, cuts positional shards, skips those whose stats
 * already exist (resume), and adds the rest as flows while keeping at most `maxShardsInFlight`
 * outstanding (back-pressure: Redis never holds more than that, however large the source). Once
 * every shard is done it finalises the dataset.
 */
export async function processCrawlJob(
  job: CrawlJobHandle,
  store: ObjectStore,
  queues: ShardQueues & { shardQueue: Queue },
  sources: SourceContext,
  options: { signal?: AbortSignal; retryWindowMs?: number } = {},
): Promise<CrawlSummary> {
  const { signal } = options;
  const data = parseOrThrow(crawlJobSchema, job.data, 'crawl job');
  await recordSourceInManifest(store, data, sources);
  // What `clapset repair` needs to re-plan the very same shards (no credentials: job data has none).
  await store.put(crawlSettingsKey(data.source.name), JSON.stringify({ ...data, fromStart: false }, null, 1), { contentType: 'application/json' });
  const source = createSource(data.source, sources);
  const dataset = { ...data.dataset, filters: data.filters ?? data.dataset.filters };
  const checkpoints = new CheckpointFrontier(store, data.source.name, isResumable(source));
  const saved = data.fromStart ? null : await checkpoints.load();
  const seen = new Set(saved?.seen ?? []);
  const items = isResumable(source) ? source.crawl(saved?.checkpoint.cursor ?? undefined) : withoutCursors(source.records());
  const tally: PlanTally = { records: 0, duplicates: 0 };
  const progress: CrawlProgress = { records: 0, duplicates: 0, shardsPlanned: 0, shardsSkipped: 0, shardsDone: 0, shardsFailed: 0, excluded: noneExcluded() };
  const outstanding = new Map<string, PlannedShard>();
  const failures: string[] = [];
  const report = async () => {
    progress.records = tally.records;
    progress.duplicates = tally.duplicates;
    await job.updateProgress({ ...progress });
  };

  // Settles the outstanding shards whose jobs have finished; re-adds any that vanished unfinished
  // (e.g. Redis lost its keys), since the object store says they are not done.
  const settle = async (): Promise<boolean> => {
    const before = outstanding.size;
    for (const [id, shard] of outstanding) {
      const state = await queues.shardQueue.getJobState(id);
      if (state === 'completed' || state === 'unknown') {
        if (await patiently('shard stats', () => store.exists(shardKeys(shard.ref).stats))) {
          outstanding.delete(id);
          checkpoints.settle(shard);
          progress.shardsDone++;
        } else if (state === 'unknown') {
          log.warn('shard job vanished before finishing; adding it again', { shard: shard.ref.name });
          await enqueueShard(queues, dataset, data.source, shard);
        }
      } else if (state === 'failed') {
        const failed = await queues.shardQueue.getJob(id);
        failures.push(`${shard.ref.split}/${shard.ref.name}: ${failed?.failedReason ?? 'unknown reason'}`);
        outstanding.delete(id);
        progress.shardsFailed++;
      }
    }
    await patiently('checkpoint', () => checkpoints.save(seen, false));
    const settled = outstanding.size < before;
    if (settled) await report();
    return settled;
  };
  const wait = (ms = 100) => new Promise((r) => setTimeout(r, ms));
  // Each poll asks Redis for every outstanding shard's state: at a fixed 100 ms that was most of a
  // crawl's Redis commands (scale benchmark), paid per second rather than per clip. While nothing
  // settles the interval doubles up to 1 s, against shard jobs that take seconds to tens of seconds.
  let pollMs = 100;
  const settleOrWait = async (busy: () => boolean) => {
    pollMs = (await settle()) ? 100 : Math.min(1000, pollMs * 2);
    await stopIfAsked();
    if (busy()) await wait(pollMs);
  };
  const unfinished = () => [...failures.map((f) => f.split(':')[0]!), ...[...outstanding.values()].map((s) => `${s.ref.split}/${s.ref.name}`)];
  // Storage trouble while shards are in flight: the crawl waits it out in place, keeping what it
  // knows, and outlasts its chunks' own retry windows so that, if storage stays away, it can still
  // name the shards they left unfinished.
  const patience = 2 * (options.retryWindowMs ?? 15 * 60_000) + 10_000;
  let troubleSince: number | null = null;
  const patiently = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    for (let waits = 0; ; waits++) {
      try {
        const value = await run();
        troubleSince = null;
        return value;
      } catch (error) {
        if (!isTransientError(error)) throw error;
        // Draining while storage is down: nothing new to checkpoint, so hand the crawl back at once.
        if (signal?.aborted) throw new CrawlStopped();
        troubleSince ??= Date.now();
        const seconds = Math.round((Date.now() - troubleSince) / 1000);
        if (Date.now() - troubleSince >= patience) {
          throw new UnrecoverableError(
            `storage unreachable for ${seconds} s (${what}: ${errorMessage(error)}); shards unfinished: ${unfinished().join(', ') || 'none yet'}; ` +
              `\`clapset repair ${store.uri}\` redoes them once storage is back`,
          );
        }
        if (waits === 0) log.warn('crawl waits for storage', { what, error: errorMessage(error) });
        await wait(transientDelayMs(waits));
      }
    }
  };
  const stopIfAsked = async () => {
    if (!signal?.aborted) return;
    await checkpoints.save(seen, true);
    throw new CrawlStopped();
  };

  const plan = planExcluding({ store, crawl: data, resume: saved?.checkpoint ?? null, counts: progress.excluded }, items, (kept) =>
    planShards(kept, data.dataset, data.source.name, { limit: data.limit, tally, seen, ...(saved ? { resume: saved.checkpoint } : {}) }),
  );
  if (saved) progress.shardsPlanned = progress.shardsSkipped = saved.checkpoint.nextIndex.train + saved.checkpoint.nextIndex.test;
  for await (const shard of plan) {
    await stopIfAsked();
    progress.shardsPlanned++;
    checkpoints.plan(shard);
    if (await patiently('shard stats', () => store.exists(shardKeys(shard.ref).stats))) {
      checkpoints.settle(shard);
      progress.shardsSkipped++;
      continue;
    }
    const full = () => outstanding.size >= data.maxShardsInFlight;
    while (full()) await settleOrWait(full);
    outstanding.set(await enqueueShard(queues, dataset, data.source, shard), shard);
    await report();
  }
  const any = () => outstanding.size > 0;
  while (any()) await settleOrWait(any);
  await patiently('checkpoint', () => checkpoints.save(seen, true));
  if (failures.length > 0) {
    // Each shard had its full retry window already: retrying the whole crawl at once would not help.
    throw new UnrecoverableError(
      `${failures.length} shard(s) unfinished; once the cause is fixed, \`clapset repair ${store.uri}\` (or the crawl with --resume) redoes them: ${failures.join(' | ')}`,
    );
  }
  const stats = await patiently('finalising', () => finaliseWithExclusions(store));
  const own = stats.sources[data.source.name];
  return {
    ...progress,
    samples: own?.samples ?? 0,
    failed: own ? Object.values(own.failed).reduce((a, b) => a + b, 0) : 0,
    filtered: own ? Object.values(own.filtered).reduce((a, b) => a + b, 0) : 0,
    hours: own?.hours ?? 0,
  };
}

/** Longest a manifest update may hold its lock (a holder that died frees it then). */
const MANIFEST_LOCK_TTL_MS = 30_000;

/**
 * Keeps `manifest.json` listing every source crawled into the dataset, with the dataset settings.
 * The crawls of one dataset (a recipe's sources, on any workers) update it read-modify-write at
 * once, so each update holds a Redis lock named after the dataset: none drops another's source, and
 * no two PUTs of the key race (the S3 test server, s3rver, writes objects in place and interleaved
 * two such PUTs into a corrupt manifest in a chaos run).
 */
export async function recordSourceInManifest(store: ObjectStore, data: CrawlJob, redis: Pick<SourceContext, 'redis' | 'prefix'>): Promise<void> {
  const lock = `${redis.prefix}:manifest-lock:${datasetId(store.uri)}`;
  while ((await withSharedLock(redis.redis, lock, MANIFEST_LOCK_TTL_MS, () => updateManifest(store, data))) === null) {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
  }
}

async function updateManifest(store: ObjectStore, data: CrawlJob): Promise<void> {
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
    // A crawl without --public-url keeps the one recorded before (the card's https form).
    dataset: { ...data.dataset, publicUrl: data.dataset.publicUrl ?? existing?.dataset.publicUrl ?? null },
    sources: [...(existing?.sources ?? []).filter((s) => s.name !== data.source.name), data.source],
    audio: { sample_rate: 48000, channels: 1, codec: 'flac' },
    members: ['flac', 'json'],
    embedding: data.dataset.embed ? { model: data.dataset.embed.model, dim: CLAP_EMBEDDING_DIM } : null,
  };
  await store.put(MANIFEST_KEY, JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
}

/** How many provider ids one seen segment of a crawl checkpoint holds (schemas/checkpoint.ts). */
export const SEEN_IDS_PER_SEGMENT = 10_000;

/** A checkpoint as loaded: the planner's state and the provider ids seen before it, in the order seen. */
export interface LoadedCheckpoint {
  checkpoint: PlanCheckpoint;
  seen: string[];
}

/**
 * Tracks which planned shards are settled (done or already there) and saves the planner's
 * checkpoint at the newest shard before which everything is settled — never past a shard that is
 * still in flight or failed, so a crawl resumed from it loses nothing even if Redis lost its jobs.
 *
 * The seen ids go to append-only segments of `idsPerSegment` ids: a save rewrites the open tail
 * segment and writes any it filled since, then the checkpoint, so its cost does not grow with the
 * ids seen so far and the checkpoint never names ids that are not stored yet.
 */
export class CheckpointFrontier {
  readonly #store: ObjectStore;
  readonly #source: string;
  readonly #key: string;
  /** Only sources that can restart at a cursor have anything to gain from a checkpoint. */
  readonly #enabled: boolean;
  readonly #idsPerSegment: number;
  readonly #pending: { name: string; checkpoint: PlanCheckpoint; settled: boolean }[] = [];
  #frontier: PlanCheckpoint | null = null;
  #savedFrontier: PlanCheckpoint | null = null;
  #lastSave = 0;
  /** Not resumed from the stored checkpoint: it and its segments are cleared before this run's first save. */
  #fresh = true;
  /** The crawl's seen set (it only grows, in insertion order), read on from the last id saved. */
  #ids: Iterator<string> | null = null;
  /** How many ids are stored in segments. */
  #stored = 0;
  /** The stored ids of the open tail segment (from the segment boundary at or below `#stored`). */
  #tail: string[] = [];

  constructor(store: ObjectStore, source: string, enabled: boolean, options: { idsPerSegment?: number } = {}) {
    this.#store = store;
    this.#source = source;
    this.#enabled = enabled;
    this.#key = crawlCheckpointKey(source);
    this.#idsPerSegment = options.idsPerSegment ?? SEEN_IDS_PER_SEGMENT;
  }

  async load(): Promise<LoadedCheckpoint | null> {
    if (!this.#enabled || !(await this.#store.exists(this.#key))) return null;
    const saved = parseOrThrow(crawlCheckpointSchema, await readJson(this.#store, this.#key), this.#key);
    const count = saved.checkpoint.seenCount;
    // The earlier format (every id inline): the next save writes them all to segments, once.
    const seen = saved.seen?.slice(0, count) ?? (await this.#readSegments(count, saved.seen_segments!.ids_per_segment));
    if (seen.length < count) throw new Error(`${this.#key} lists ${seen.length} seen ids, its checkpoint counts ${count}`);
    if (!saved.seen && saved.seen_segments!.ids_per_segment === this.#idsPerSegment) {
      this.#stored = count;
      this.#tail = seen.slice(count - (count % this.#idsPerSegment));
    }
    this.#fresh = false;
    return { checkpoint: saved.checkpoint, seen };
  }

  /** The first `count` seen ids, from segments of `per` ids, read 8 at a time. */
  async #readSegments(count: number, per: number): Promise<string[]> {
    const indices = Array.from({ length: Math.ceil(count / per) }, (_, i) => i);
    const segments = await mapPool(indices, 8, async (index) => {
      const key = seenSegmentKey(this.#source, index);
      const segment = parseOrThrow(seenSegmentSchema, await readJson(this.#store, key), key);
      const wanted = Math.min(per, count - index * per);
      if (segment.first !== index * per || segment.ids.length < wanted) {
        throw new Error(`${key} holds ${segment.ids.length} ids from id ${segment.first}; ${this.#key} needs ${wanted} from id ${index * per}`);
      }
      return segment.ids.slice(0, wanted);
    });
    return segments.flat();
  }

  plan(shard: PlannedShard): void {
    this.#pending.push({ name: `${shard.ref.split}/${shard.ref.name}`, checkpoint: shard.checkpoint, settled: false });
  }

  settle(shard: PlannedShard): void {
    const entry = this.#pending.find((p) => p.name === `${shard.ref.split}/${shard.ref.name}`);
    if (entry) entry.settled = true;
    while (this.#pending[0]?.settled) this.#frontier = this.#pending.shift()!.checkpoint;
  }

  /**
   * Saves at most every 10 s, and always when `final`. `seen` is the set the planner fills (the
   * same one every time); the checkpoint covers its first `seenCount` ids. Safe to call again
   * after a failure part-way: what was written is written again.
   */
  async save(seen: Set<string>, final: boolean): Promise<void> {
    const frontier = this.#frontier;
    if (!this.#enabled || !frontier || frontier === this.#savedFrontier || (!final && Date.now() - this.#lastSave < 10_000)) return;
    if (this.#fresh) {
      // A crawl from the start must not leave an earlier crawl's checkpoint naming segments it rewrites.
      const stale = [this.#key];
      for await (const object of this.#store.list(seenSegmentsPrefix(this.#source))) stale.push(object.key);
      await this.#store.delete(stale);
      this.#fresh = false;
    }
    await this.#storeSeen(seen, frontier.seenCount);
    const body: CrawlCheckpoint = {
      source: this.#source,
      saved_at: new Date().toISOString(),
      checkpoint: frontier,
      seen_segments: { ids_per_segment: this.#idsPerSegment },
    };
    await this.#store.put(this.#key, JSON.stringify(body), { contentType: 'application/json' });
    this.#savedFrontier = frontier;
    this.#lastSave = Date.now();
  }

  /** Writes the segments from the open tail up to id `count`: the tail again, and any filled since. */
  async #storeSeen(seen: Set<string>, count: number): Promise<void> {
    if (count <= this.#stored) return;
    const per = this.#idsPerSegment;
    if (!this.#ids) {
      this.#ids = seen.values();
      for (let i = 0; i < this.#stored; i++) this.#ids.next();
    }
    const first = this.#stored - (this.#stored % per);
    const ids = this.#tail;
    while (first + ids.length < count) {
      const next = this.#ids.next();
      if (next.done) throw new Error(`the seen set holds fewer than the ${count} ids its checkpoint counts`);
      ids.push(next.value);
    }
    for (let start = first; start < count; start += per) {
      const segment: SeenSegment = { first: start, ids: ids.slice(start - first, Math.min(start + per, count) - first) };
      await this.#store.put(seenSegmentKey(this.#source, start / per), JSON.stringify(segment), { contentType: 'application/json' });
    }
    this.#stored = count;
    this.#tail = ids.slice(count - (count % per) - first);
  }
}
