import { log } from '../infra/log.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import type { Split } from '../schemas/dataset.ts';
import { crawlExclusionSummarySchema, type CrawlExclusionSummary, type ExcludedCounts, type ExcludedIdsRef } from '../schemas/exclusions.ts';
import type { CrawlJob } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import type { DatasetStats } from '../schemas/stats.ts';
import { anyExclusions, compileRules, exclusionReason, noneExcluded, parseIdList, sameExcluded, sha256, totalExcluded } from './exclusion-rules.ts';
import { finaliseDataset } from '../dataset/finalise.ts';
import type { PlanCheckpoint, PlannedShard, SourceItem } from './shard-plan.ts';
import { emptyTally } from '../workers/shard/tally.ts';
import { readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

export const exclusionSummaryKey = (source: string) => `_crawl/${source}.json`;

/** Stores an id list where every crawl job of the dataset can read it (see `excludedIdsFile`). */
export async function putExcludedIds(store: ObjectStore, file: { ref: ExcludedIdsRef; text: string }): Promise<void> {
  await store.put(file.ref.key, file.text, { contentType: 'text/plain; charset=utf-8' });
}

async function loadExcludedIds(store: ObjectStore, ref: ExcludedIdsRef): Promise<string[]> {
  if (!(await store.exists(ref.key))) {
    throw new Error(`the exclusion list ${ref.key} is missing from ${store.uri}; \`clapset crawl --exclude-ids <file>\` stores it there`);
  }
  const text = (await store.getBuffer(ref.key)).toString('utf8');
  // A list replaced between submission and crawl would exclude other records than the job promised.
  if (sha256(text) !== ref.sha256) throw new Error(`the exclusion list ${ref.key} in ${store.uri} changed after the crawl was submitted`);
  return parseIdList(text);
}

async function readExclusionSummary(store: ObjectStore, source: string): Promise<CrawlExclusionSummary | null> {
  const key = exclusionSummaryKey(source);
  if (!(await store.exists(key))) return null;
  return parseOrThrow(crawlExclusionSummarySchema, await readJson(store, key), key);
}

const cutKey = (next: Record<Split, number>) => `${next.train}/${next.test}`;

/**
 * The counts saved at the latest cut at or before `next`. Each cut advances exactly one split's
 * index, so the cuts before a given one are those with neither index beyond it.
 */
function cutsUpTo(atCut: Record<string, ExcludedCounts>, next: Record<Split, number>): { kept: Record<string, ExcludedCounts>; latest: ExcludedCounts } {
  const kept: Record<string, ExcludedCounts> = {};
  let latest = noneExcluded();
  let latestSum = -1;
  for (const [key, counts] of Object.entries(atCut)) {
    const [train, test] = key.split('/').map(Number) as [number, number];
    if (train > next.train || test > next.test) continue;
    kept[key] = counts;
    if (train + test > latestSum) [latest, latestSum] = [counts, train + test];
  }
  return { kept, latest };
}

/**
 * Applies the crawl's exclusion rules between the source and the shard planner: excluded records
 * are counted by reason in `counts` (the crawl's live progress) and never planned. The counts are
 * saved in `_crawl/<source>.json`, at every shard cut where they changed (before the cut can become
 * the crawl checkpoint's frontier) and at the end, so that a crawl resumed from a checkpoint starts
 * from exactly the counts before its cursor and counts nothing twice. Resuming with other rules is
 * refused: it would re-cut the shards already written.
 */
export async function* planExcluding(
  options: { store: ObjectStore; crawl: CrawlJob; resume: PlanCheckpoint | null; counts: ExcludedCounts },
  items: AsyncIterable<SourceItem>,
  plan: (kept: AsyncIterable<SourceItem>) => AsyncIterable<PlannedShard>,
): AsyncGenerator<PlannedShard> {
  const { store, crawl, resume, counts } = options;
  const source = crawl.source.name;
  const previous = await readExclusionSummary(store, source);
  if (previous && JSON.stringify(previous.rules) !== JSON.stringify(crawl.exclude)) {
    throw new Error(
      `source ${source} of ${store.uri} was crawled with exclusion rules ${JSON.stringify(previous.rules)}; ` +
        `resuming with ${JSON.stringify(crawl.exclude)} would re-cut its shards`,
    );
  }
  const rules = compileRules(crawl.exclude, crawl.exclude.ids ? await loadExcludedIds(store, crawl.exclude.ids) : []);
  const restored = resume && previous ? cutsUpTo(previous.at_cut, resume.nextIndex) : { kept: {}, latest: noneExcluded() };
  const atCut = restored.kept;
  let lastSaved = restored.latest;
  Object.assign(counts, restored.latest);

  // Items handed to the planner so far, numbered as the planner's tally counts them (records +
  // duplicates), and the counts before each of the last two: the planner cuts right after an item,
  // or one item later when it stops at --limit.
  let position = resume ? resume.tally.records + resume.tally.duplicates : 0;
  const before = new Map<number, ExcludedCounts>([[position, { ...counts }]]);
  async function* kept(): AsyncGenerator<SourceItem> {
    for await (const item of items) {
      const reason = exclusionReason(item.record, rules);
      if (reason !== null) {
        counts[reason]++;
        continue;
      }
      position++;
      before.set(position, { ...counts });
      before.delete(position - 2);
      yield item;
    }
  }
  const save = async (complete: boolean) => {
    const summary: CrawlExclusionSummary = {
      source,
      updated_at: new Date().toISOString(),
      complete,
      rules: crawl.exclude,
      excluded: { ...counts },
      at_cut: atCut,
    };
    await store.put(exclusionSummaryKey(source), JSON.stringify(summary, null, 1), { contentType: 'application/json' });
  };

  // Counts saved for cuts past the resume point belong to the run being redone: drop them now.
  if (previous && Object.keys(atCut).length < Object.keys(previous.at_cut).length) await save(false);
  for await (const shard of plan(kept())) {
    const { tally, nextIndex } = shard.checkpoint;
    // (The planner's count is always one the map holds; counts now would only be off by a few.)
    const snapshot = before.get(tally.records + tally.duplicates) ?? { ...counts };
    if (!sameExcluded(snapshot, lastSaved)) {
      atCut[cutKey(nextIndex)] = snapshot;
      lastSaved = snapshot;
      await save(false);
    }
    yield shard;
  }
  await save(true);
  if (totalExcluded(counts) > 0) log.info('records excluded at crawl time', { source, ...counts });
}

/** A source's entry in `stats.json`, with what its crawl left out. */
export type SourceStatsWithExclusions = DatasetStats['sources'][string] & { excluded?: ExcludedCounts };
export type DatasetStatsWithExclusions = Omit<DatasetStats, 'sources' | 'totals'> & {
  totals: DatasetStats['totals'] & { excluded?: number };
  sources: Record<string, SourceStatsWithExclusions>;
};

/**
 * `finaliseDataset` plus the crawl-time exclusions of each source crawled with exclusion rules, or
 * whose provider opted records out, in `stats.json` (`sources.<name>.excluded`, `totals.excluded`).
 * Added fields only: readers that parse stats.json with its schema see the same stats as before.
 * A source whose every record was excluded gets an entry with zero samples.
 */
export async function finaliseWithExclusions(store: ObjectStore): Promise<DatasetStatsWithExclusions> {
  const stats: DatasetStatsWithExclusions = await finaliseDataset(store);
  let excluded = 0;
  let any = false;
  for await (const object of store.list('_crawl/')) {
    const name = /^_crawl\/([a-z0-9][a-z0-9-]*)\.json$/.exec(object.key)?.[1];
    if (name === undefined) continue;
    const summary = await readExclusionSummary(store, name);
    // Crawls without exclusion rules or opt-outs leave their stats as they always were.
    if (summary === null || (!anyExclusions(summary.rules) && totalExcluded(summary.excluded) === 0)) continue;
    const total = totalExcluded(summary.excluded);
    const entry = stats.sources[name] ?? (total > 0 ? (stats.sources[name] = { ...emptyTally(), hours: 0, clips: 0 }) : undefined);
    if (entry === undefined) continue;
    entry.excluded = summary.excluded;
    excluded += total;
    any = true;
  }
  if (any) {
    stats.totals.excluded = excluded;
    await store.put(STATS_KEY, JSON.stringify(stats, null, 1), { contentType: 'application/json' });
  }
  return stats;
}
