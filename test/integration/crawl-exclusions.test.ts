/**
 * Crawl-time exclusions between a source and the shard planner (crawl/crawl-exclusions.ts), on
 * a real local object store: counts by reason, saved so that a crawl resumed from any checkpoint
 * ends with exactly the counts of an uninterrupted one; rule changes refused; the id list read
 * from the dataset and checked; the counts added to stats.json.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../infra/store/open-store.ts';
import type { ObjectStore } from '../../infra/store/object-store.ts';
import { finaliseWithExclusions, planExcluding, putExcludedIds } from '../../crawl/crawl-exclusions.ts';
import { excludedIdsFile, noneExcluded } from '../../crawl/exclusion-rules.ts';
import { planShards, type PlannedShard, type PlanCheckpoint, type PlanTally, type SourceItem } from '../../crawl/shard-plan.ts';
import type { ClipRecord } from '../../schemas/clip.ts';
import type { ExcludedCounts } from '../../schemas/exclusions.ts';
import { crawlJobSchema, type CrawlJob } from '../../schemas/jobs.ts';

const LICENSES = ['cc0', 'cc-by-nc-4.0', 'cc-by-4.0', 'cc-by-nc-3.0', 'cc0', 'sampling+', 'cc0'];
// 66 listings with four duplicates (as Epidemic lists a track in two categories), one of them an excluded id;
// every ninth opted out by its provider (as Freesound's gen_ai_preference). The last two are excluded:
// a crawl resumed from its final cut reads them again.
const RECORDS: ClipRecord[] = Array.from({ length: 66 }, (_, i) => {
  const n = i % 16 === 15 ? i - 7 : i;
  const license = i >= 64 ? 'cc-by-nc-4.0' : LICENSES[n % LICENSES.length]!;
  const optedOut = n % 9 === 5 ? { optedOut: 'gen_ai_preference: no-gen-ai' } : {};
  return { source: 'fx', id: `r${n}`, audio: `file:r${n}.wav`, text: [`clip ${n}`], tags: [], license, original: {}, ...optedOut };
});
const EXCLUDED_IDS = ['r4', 'r11', 'r12', 'r40', 'not-in-source'];

let dir: string;
let store: ObjectStore;
let crawl: CrawlJob;

function items(after = -1): AsyncIterable<SourceItem> {
  return (async function* () {
    for (const [i, record] of RECORDS.entries()) if (i > after) yield { record, cursor: String(i) };
  })();
}

interface Run {
  shards: PlannedShard[];
  counts: ExcludedCounts;
  tally: PlanTally;
  seen: Set<string>;
}

/** One crawl's planning, as crawl.ts drives it; `stopAfter` shards abandons it mid-way (a crash). */
async function run(job: CrawlJob, options: { resume?: PlanCheckpoint; seen?: string[]; stopAfter?: number; limit?: number } = {}): Promise<Run> {
  const counts = noneExcluded();
  const tally: PlanTally = { records: 0, duplicates: 0 };
  const seen = new Set(options.seen ?? []);
  const shards: PlannedShard[] = [];
  const plan = planExcluding({ store, crawl: job, resume: options.resume ?? null, counts }, items(options.resume ? Number(options.resume.cursor) : -1), (kept) =>
    planShards(kept, job.dataset, 'fx', { limit: options.limit ?? null, tally, seen, ...(options.resume ? { resume: options.resume } : {}) }),
  );
  for await (const shard of plan) {
    shards.push(shard);
    if (shards.length === options.stopAfter) break;
  }
  return { shards, counts, tally, seen };
}

const names = (shards: PlannedShard[]) => shards.map((s) => [s.ref.split, s.ref.name, s.clips.map((c) => c.key)]);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clapset-exclusions-'));
  store = openStore(dir);
  const file = excludedIdsFile('fx', EXCLUDED_IDS);
  await putExcludedIds(store, file);
  crawl = crawlJobSchema.parse({
    dataset: { uri: dir, shardSize: 4, testFraction: 0.3 },
    source: { type: 'local', name: 'fx', root: dir },
    exclude: { licensePrefixes: ['CC-BY-NC'], ids: file.ref },
  });
});

after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('crawl-time exclusions', () => {
  it('counts every excluded listing by reason and never plans it: records + duplicates + excluded = listings', async () => {
    const full = await run(crawl);
    const planned = full.shards.flatMap((s) => s.clips.map((c) => c.record));
    assert.ok(planned.every((r) => !EXCLUDED_IDS.includes(r.id) && !r.license!.startsWith('cc-by-nc')));
    // The provider's opt-out comes first, then the id list, then licences.
    const byOptOut = RECORDS.filter((r) => r.optedOut !== undefined).length;
    const byId = RECORDS.filter((r) => r.optedOut === undefined && EXCLUDED_IDS.includes(r.id)).length;
    const byLicense = RECORDS.filter((r) => r.optedOut === undefined && !EXCLUDED_IDS.includes(r.id) && r.license!.startsWith('cc-by-nc')).length;
    assert.deepEqual(full.counts, { license: byLicense, id: byId, opt_out: byOptOut });
    assert.ok(byLicense >= 12 && byId === 5 && byOptOut >= 7, JSON.stringify(full.counts));
    assert.equal(full.tally.records + full.tally.duplicates + byLicense + byId + byOptOut, RECORDS.length);
    const summary = JSON.parse(await readFile(join(dir, '_crawl/fx.json'), 'utf8')) as { complete: boolean; excluded: ExcludedCounts };
    assert.equal(summary.complete, true);
    assert.deepEqual(summary.excluded, full.counts);
  });

  it('a crawl abandoned mid-way and resumed from any earlier checkpoint ends with the same shards and counts', async () => {
    const full = await run(crawl);
    const all = full.shards.length;
    for (const [crashAfter, resumeFrom] of [[3, 1], [6, 6], [9, 4], [all, all - 1], [all, all]] as const) {
      const partial = await run(crawl, { stopAfter: crashAfter });
      const checkpoint = partial.shards[resumeFrom - 1]!.checkpoint;
      const resumed = await run(crawl, { resume: checkpoint, seen: [...partial.seen].slice(0, checkpoint.seenCount) });
      assert.deepEqual(names([...partial.shards.slice(0, resumeFrom), ...resumed.shards]), names(full.shards), `crash after ${crashAfter}, resume at ${resumeFrom}`);
      assert.deepEqual(resumed.counts, full.counts, `counts after crash ${crashAfter} / resume ${resumeFrom}`);
    }
  });

  it('stops at --limit after the exclusions before the next kept record, and resumes consistently from its last cut', async () => {
    const full = await run(crawl);
    // Every limit: the cut may come right after an excluded run of records, or just before one.
    for (let limit = 1; limit <= 30; limit++) {
      const limited = await run(crawl, { limit });
      assert.equal(limited.shards.reduce((n, s) => n + s.clips.length, 0), limit);
      const last = limited.shards.at(-1)!.checkpoint;
      const resumed = await run(crawl, { resume: last, seen: [...limited.seen].slice(0, last.seenCount) });
      assert.deepEqual(resumed.counts, full.counts, `limit ${limit}`);
    }
  });

  it('refuses to resume with other rules, and a missing or altered id list', async () => {
    await assert.rejects(run({ ...crawl, exclude: { ...crawl.exclude, licensePrefixes: [] } }), /was crawled with exclusion rules .*would re-cut its shards/);
    const other = crawlJobSchema.parse({ ...crawl, source: { ...crawl.source, name: 'other' }, exclude: { ids: excludedIdsFile('other', ['r1']).ref } });
    await assert.rejects(run(other), /the exclusion list _crawl\/other\.exclude-ids\.[0-9a-f]+\.txt is missing/);
    await writeFile(join(dir, crawl.exclude.ids!.key), 'r4\n');
    await assert.rejects(run(crawl), /changed after the crawl was submitted/);
    await putExcludedIds(store, excludedIdsFile('fx', EXCLUDED_IDS));
  });

  it('adds each source\'s exclusions to stats.json, even for a source with no sample', async () => {
    const full = await run(crawl);
    const stats = await finaliseWithExclusions(store);
    const written = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as typeof stats;
    assert.deepEqual(written, stats);
    assert.deepEqual(written.sources.fx!.excluded, full.counts);
    assert.equal(written.sources.fx!.samples, 0);
    assert.equal(written.totals.excluded, full.counts.license + full.counts.id + full.counts.opt_out);
  });
});
