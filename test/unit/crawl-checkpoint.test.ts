/**
 * The crawl checkpoint's seen ids in append-only segments (crawl/crawl.ts `CheckpointFrontier`):
 * what one save writes stays bounded however many ids were seen, a crawl resumed from a segmented
 * checkpoint plans the same shards as an uninterrupted one (also after a crash between writing the
 * segments and the checkpoint), a checkpoint in the earlier format (every id inline) still loads,
 * and a crawl from the start clears an earlier crawl's checkpoint before writing its own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Readable } from 'node:stream';
import { CheckpointFrontier } from '../../crawl/crawl.ts';
import { planShards, type PlannedShard, type SourceItem } from '../../crawl/shard-plan.ts';
import { crawlCheckpointKey, readJson, seenSegmentKey, seenSegmentsPrefix } from '../../infra/store/dataset-layout.ts';
import type { ObjectStore } from '../../infra/store/object-store.ts';
import { openStore } from '../../infra/store/open-store.ts';
import type { ClipRecord } from '../../schemas/clip.ts';

let work: string;
before(async () => (work = await mkdtemp(join(tmpdir(), 'clapset-checkpoint-unit-'))));
after(() => rm(work, { recursive: true, force: true }));

let stores = 0;
/** What each counting store's puts wrote, in order. */
const written = new WeakMap<ObjectStore, { key: string; bytes: number }[]>();
/** A local store that counts the bytes each put writes, and can be told to fail the next put of a key. */
function countingStore() {
  const inner = openStore(join(work, `store-${stores++}`));
  const puts: { key: string; bytes: number }[] = [];
  const failNext = new Set<string>();
  const store: ObjectStore = {
    uri: inner.uri,
    async put(key: string, body: Buffer | string | Readable, options?: { contentType?: string }) {
      if (failNext.delete(key)) throw new Error(`simulated crash before writing ${key}`);
      puts.push({ key, bytes: typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : NaN });
      await inner.put(key, body, options);
    },
    putFile: (key, path, options) => inner.putFile(key, path, options),
    getStream: (key) => inner.getStream(key),
    getBuffer: (key) => inner.getBuffer(key),
    readRange: (key, offset, into) => inner.readRange(key, offset, into),
    size: (key) => inner.size(key),
    exists: (key) => inner.exists(key),
    list: (prefix) => inner.list(prefix),
    delete: (keys) => inner.delete(keys),
    locate: (key) => inner.locate(key),
    close: () => inner.close(),
  };
  written.set(store, puts);
  return { store, failNext };
}

const record = (id: string): ClipRecord => ({ source: 'src', id, audio: `file:${id}`, text: [id], tags: [], license: null, original: {} });
/** Item i has id `ids[i]` and the cursor `i + 1`: resuming at a cursor yields the items after it. */
async function* items(ids: readonly string[], from = 0): AsyncGenerator<SourceItem> {
  for (let i = from; i < ids.length; i++) yield { record: record(ids[i]!), cursor: String(i + 1) };
}
const dataset = { shardSize: 50, testFraction: 0.2, splitSeed: 'seed' };
const tally = () => ({ records: 0, duplicates: 0 });
const refs = (shards: readonly PlannedShard[]) => shards.map((s) => JSON.stringify([s.ref, s.clips]));

async function uninterrupted(ids: readonly string[]): Promise<PlannedShard[]> {
  const shards: PlannedShard[] = [];
  for await (const shard of planShards(items(ids), dataset, 'src', { limit: null, tally: tally() })) shards.push(shard);
  return shards;
}

/**
 * Crawls `ids` as the crawl job does (plan, settle, save), settling every shard at once but the
 * `lagging` one, which settles `lag` shards late (still in flight), and stops after `stopAfter`
 * shards (the worker killed). With `resume`, continues from the stored checkpoint. Returns the
 * shards it planned and the per-save bytes.
 */
async function crawl(store: ObjectStore, ids: readonly string[], options: { idsPerSegment: number; stopAfter?: number; resume?: boolean; lagging?: number; lag?: number; beforeSave?: (n: number) => void }) {
  const frontier = new CheckpointFrontier(store, 'src', true, { idsPerSegment: options.idsPerSegment });
  const saved = options.resume ? await frontier.load() : null;
  const seen = new Set(saved?.seen ?? []);
  const from = saved?.checkpoint.cursor ? Number(saved.checkpoint.cursor) : 0;
  const planned: PlannedShard[] = [];
  const waiting: PlannedShard[] = [];
  const saves: number[] = [];
  const source = planShards(items(ids, from), dataset, 'src', { limit: null, tally: tally(), seen, ...(saved ? { resume: saved.checkpoint } : {}) });
  for await (const shard of source) {
    planned.push(shard);
    frontier.plan(shard);
    if (planned.length - 1 === options.lagging) waiting.push(shard);
    else frontier.settle(shard);
    if (waiting.length > 0 && planned.length - 1 === (options.lagging ?? 0) + (options.lag ?? 0)) frontier.settle(waiting.pop()!);
    options.beforeSave?.(planned.length);
    saves.push(await bytesOf(store, () => frontier.save(seen, true)));
    if (planned.length === options.stopAfter) break;
  }
  return { planned, saves, seen };
}

async function bytesOf(store: ObjectStore, run: () => Promise<void>): Promise<number> {
  const puts = written.get(store)!;
  const mark = puts.length;
  await run();
  return puts.slice(mark).reduce((sum, p) => sum + p.bytes, 0);
}

test('the bytes one checkpoint save writes stay bounded as the seen ids grow', async (t) => {
  const largest: Record<number, number> = {};
  const perId: Record<number, number> = {};
  for (const n of [1_000, 10_000]) {
    const ids = Array.from({ length: n }, (_, i) => `provider-id-${String(i).padStart(7, '0')}`);
    const { store } = countingStore();
    const { saves, seen, planned } = await crawl(store, ids, { idsPerSegment: 500 });
    assert.equal(saves.length, planned.length, 'a save after every shard');
    largest[n] = Math.max(...saves);
    perId[n] = saves.reduce((a, b) => a + b, 0) / n;
    const reloaded = await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 500 }).load();
    assert.deepEqual(reloaded?.checkpoint, planned.at(-1)!.checkpoint);
    assert.deepEqual(reloaded?.seen, [...seen]);
  }
  const figures = `largest save: ${largest[1_000]} B at 1,000 ids, ${largest[10_000]} B at 10,000; bytes saved per id ${perId[1_000]!.toFixed(0)}, ${perId[10_000]!.toFixed(0)}`;
  t.diagnostic(figures);
  // A save writes at most a sealed segment, the open tail and the checkpoint (≤ 2 × 50 open clips): its
  // size depends on how full those happen to be, not on N. Every id at every save (the earlier format)
  // made the last save of the 10,000 ~230 KB, eight times the 1,000-id crawl's.
  assert.ok(largest[10_000]! < 40_000 && largest[10_000]! < 1.5 * largest[1_000]!, figures);
  assert.ok(perId[10_000]! <= 1.1 * perId[1_000]!, figures);
});

test('a crawl resumed from a segmented checkpoint plans the same shards as an uninterrupted one', async () => {
  // Repeats late in the stream of ids seen early: only a faithful seen set drops them again.
  const ids = Array.from({ length: 1_300 }, (_, i) => `id-${i < 1_000 ? i : (i * 7) % 1_100}`);
  const full = await uninterrupted(ids);
  for (const [stopAfter, lagging] of [[3, 1], [11, 4], [17, 16], [full.length - 2, 5]] as const) {
    const { store } = countingStore();
    const first = await crawl(store, ids, { idsPerSegment: 7, stopAfter, lagging, lag: 100 });
    // Shard `lagging` never settled before the kill: the checkpoint stops before it.
    const resumed = await crawl(store, ids, { idsPerSegment: 7, resume: true });
    const done = first.planned.slice(0, lagging);
    assert.deepEqual([...refs(done), ...refs(resumed.planned)], refs(full), `killed after ${stopAfter} shards, shard ${lagging} in flight`);
  }
});

test('a crash between writing the segments and the checkpoint resumes from the previous checkpoint, unchanged', async () => {
  const ids = Array.from({ length: 800 }, (_, i) => `id-${i % 650}`);
  const full = await uninterrupted(ids);
  const { store, failNext } = countingStore();
  const key = crawlCheckpointKey('src');
  // The 6th save writes its segments, then dies before the checkpoint.
  await assert.rejects(crawl(store, ids, { idsPerSegment: 9, beforeSave: (n) => n === 6 && void failNext.add(key) }), /simulated crash/);
  const loaded = await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 9 }).load();
  assert.deepEqual(loaded?.checkpoint, full[4]!.checkpoint, 'the 5th save is what the store holds');
  const resumed = await crawl(store, ids, { idsPerSegment: 9, resume: true });
  assert.deepEqual([...refs(full.slice(0, 5)), ...refs(resumed.planned)], refs(full));
});

test('a checkpoint of the earlier format (every id inline) loads, and the next save moves it to segments', async () => {
  const ids = Array.from({ length: 600 }, (_, i) => `id-${i % 520}`);
  const full = await uninterrupted(ids);
  const seen = new Set<string>();
  for await (const _ of planShards(items(ids), dataset, 'src', { limit: null, tally: tally(), seen }));
  const at = full[3]!.checkpoint;
  const { store } = countingStore();
  await store.put(crawlCheckpointKey('src'), JSON.stringify({ source: 'src', saved_at: new Date().toISOString(), checkpoint: at, seen: [...seen].slice(0, at.seenCount) }));
  const loaded = await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 50 }).load();
  assert.deepEqual(loaded, { checkpoint: at, seen: [...seen].slice(0, at.seenCount) });
  const resumed = await crawl(store, ids, { idsPerSegment: 50, resume: true });
  assert.deepEqual([...refs(full.slice(0, 4)), ...refs(resumed.planned)], refs(full));
  const stored = (await readJson(store, crawlCheckpointKey('src'))) as { seen?: unknown; seen_segments?: unknown };
  assert.deepEqual([stored.seen, stored.seen_segments], [undefined, { ids_per_segment: 50 }]);
  const again = await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 50 }).load();
  assert.deepEqual(again?.seen, [...seen]);
});

test('a crawl from the start clears the earlier checkpoint and its segments before writing its own', async () => {
  const { store } = countingStore();
  const earlier = Array.from({ length: 400 }, (_, i) => `old-${i}`);
  await crawl(store, earlier, { idsPerSegment: 20 });
  assert.ok(await store.exists(seenSegmentKey('src', 19)));
  const ids = Array.from({ length: 120 }, (_, i) => `new-${i}`);
  const { seen } = await crawl(store, ids, { idsPerSegment: 20, stopAfter: 1 });
  const keys: string[] = [];
  for await (const object of store.list(seenSegmentsPrefix('src'))) keys.push(object.key);
  const count = (await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 20 }).load())!.checkpoint.seenCount;
  assert.deepEqual(keys, Array.from({ length: Math.ceil(count / 20) }, (_, i) => seenSegmentKey('src', i)), 'only this crawl’s segments');
  assert.deepEqual((await new CheckpointFrontier(store, 'src', true, { idsPerSegment: 20 }).load())?.seen, [...seen].slice(0, count));
});
