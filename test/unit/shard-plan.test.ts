import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClipRecord } from '../../schemas/clip.ts';
import { chunkClips, planShards, type PlannedShard, type PlanTally } from '../../crawl/shard-plan.ts';
import { sampleKey } from '../../crawl/sample-key.ts';
import { assignSplit } from '../../crawl/split.ts';
import { shardKeys, shardName } from '../../infra/store/dataset-layout.ts';

const record = (id: string): ClipRecord => ({ source: 'src', id, audio: `file:${id}`, text: [id], tags: [], license: null, original: {} });

async function* records(ids: string[], from = 0) {
  for (const [i, id] of ids.entries()) if (i >= from) yield { record: record(id), cursor: String(i + 1) };
}

async function plan(ids: string[], options: { shardSize: number; testFraction: number; limit?: number | null }) {
  const tally: PlanTally = { records: 0, duplicates: 0 };
  const shards = [];
  for await (const shard of planShards(records(ids), { ...options, splitSeed: 'seed' }, 'src', { limit: options.limit ?? null, tally })) shards.push(shard);
  return { shards, tally };
}

test('sample keys are stable, distinct per source and id, and contain no dot', () => {
  assert.equal(sampleKey('src', 'a/b.wav'), sampleKey('src', 'a/b.wav'));
  assert.notEqual(sampleKey('src', 'a/b.wav'), sampleKey('src', 'a/c.wav'));
  assert.notEqual(sampleKey('src', 'x'), sampleKey('other', 'x'));
  assert.match(sampleKey('src', '../../weird name.v2.wav'), /^src-[0-9a-f]{20}$/);
});

test('split assignment is seeded, deterministic and close to the asked fraction', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => sampleKey('src', String(i)));
  const test1 = keys.filter((k) => assignSplit(k, 'seed', 0.1) === 'test').length;
  assert.ok(test1 > 400 && test1 < 600, `about 10% in test, got ${test1}`);
  assert.deepEqual(keys.map((k) => assignSplit(k, 'seed', 0.1)), keys.map((k) => assignSplit(k, 'seed', 0.1)));
  assert.notDeepEqual(keys.map((k) => assignSplit(k, 'seed', 0.1)), keys.map((k) => assignSplit(k, 'other', 0.1)));
  assert.ok(keys.every((k) => assignSplit(k, 'seed', 0) === 'train'));
});

test('positional shards: full shards per split, remainders last, same plan on every run', async () => {
  const ids = Array.from({ length: 103 }, (_, i) => `clip-${i}`);
  const a = await plan(ids, { shardSize: 10, testFraction: 0.2 });
  const b = await plan(ids, { shardSize: 10, testFraction: 0.2 });
  assert.deepEqual(a.shards, b.shards);
  const all = a.shards.flatMap((s) => s.clips.map((c) => c.record.id));
  assert.equal(all.length, 103);
  assert.equal(new Set(all).size, 103);
  for (const split of ['train', 'test'] as const) {
    const mine = a.shards.filter((s) => s.ref.split === split);
    assert.deepEqual(mine.map((s) => s.ref.index), mine.map((_, i) => i), 'indexes count up from 0 per split');
    assert.ok(mine.slice(0, -1).every((s) => s.clips.length === 10), 'all but the last shard are full');
    assert.ok(mine.every((s) => s.clips.every((c) => assignSplit(c.key, 'seed', 0.2) === split)));
  }
  assert.equal(a.shards[0]!.ref.name, 'src-000000');
});

test('planning resumed from a checkpoint yields exactly the shards after it', async () => {
  const ids = Array.from({ length: 157 }, (_, i) => `clip-${i % 140}`); // some duplicates late in the stream
  const dataset = { shardSize: 8, testFraction: 0.3, splitSeed: 'seed' };
  const full: PlannedShard[] = [];
  const seen = new Set<string>();
  for await (const shard of planShards(records(ids), dataset, 'src', { limit: null, tally: { records: 0, duplicates: 0 }, seen })) full.push(shard);
  for (const at of [0, 3, 7, full.length - 3]) {
    const checkpoint = full[at]!.checkpoint;
    const resumedSeen = new Set([...seen].slice(0, checkpoint.seenCount));
    const tally = { records: 0, duplicates: 0 };
    const rest: PlannedShard[] = [];
    for await (const shard of planShards(records(ids, Number(checkpoint.cursor)), dataset, 'src', { limit: null, tally, seen: resumedSeen, resume: checkpoint })) rest.push(shard);
    assert.deepEqual(rest.map((s) => [s.ref, s.clips]), full.slice(at + 1).map((s) => [s.ref, s.clips]), `resumed after shard ${at}`);
    assert.deepEqual(tally, { records: 140, duplicates: 17 });
  }
});

test('duplicates are dropped by provider id and limit stops the plan', async () => {
  const { shards, tally } = await plan(['a', 'b', 'a', 'c', 'b', 'd'], { shardSize: 100, testFraction: 0, limit: 3 });
  assert.deepEqual(shards.flatMap((s) => s.clips.map((c) => c.record.id)), ['a', 'b', 'c']);
  assert.equal(tally.duplicates, 1, 'the second "b" comes after the limit');
  assert.equal(tally.records, 3);
});

test('shard names and object keys', () => {
  assert.equal(shardName('bbc', 42), 'bbc-000042');
  const keys = shardKeys({ split: 'test', source: 'bbc', index: 42, name: 'bbc-000042' });
  assert.deepEqual(keys, { tar: 'test/bbc-000042.tar', stats: 'test/bbc-000042_stats.json', staging: '_staging/test/bbc-000042/' });
});

test('transcode chunks close at the clip count or the byte budget, whichever comes first', () => {
  const clip = (id: string, bytes?: number) => ({ key: id, record: { ...record(id), ...(bytes === undefined ? {} : { bytes }) } });
  const ids = (chunks: { key: string }[][]) => chunks.map((c) => c.map((x) => x.key));
  assert.deepEqual(ids(chunkClips(['a', 'b', 'c', 'd', 'e'].map((id) => clip(id)), 2, 100)), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(ids(chunkClips([clip('a', 10), clip('long', 500), clip('b', 10), clip('c', 10)], 16, 100)), [['a', 'long'], ['b', 'c']]);
  assert.deepEqual(ids(chunkClips([clip('long1', 500), clip('long2', 500)], 16, 100)), [['long1'], ['long2']]);
});
