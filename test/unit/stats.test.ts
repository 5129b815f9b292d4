import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClipResult } from '../../schemas/jobs.ts';
import { emptyTally, LENGTH_BIN_EDGES, lengthBin, mergeTally, addSample, aggregateStats } from '../../workers/shard/tally.ts';
import { buildShardStats, resolveClipResults } from '../../workers/shard/shard-stats.ts';

const ok = (key: string, duration: number): ClipResult => ({ status: 'ok', key, id: key, duration, flacBytes: 10, jsonBytes: 5, license: 'cc0' });

test('length bins are log-spaced from 0.1 s to 1 h and clamp at both ends', () => {
  assert.equal(LENGTH_BIN_EDGES[0], 0.1);
  assert.equal(LENGTH_BIN_EDGES.at(-1), 3600);
  assert.equal(lengthBin(0.01), 0);
  assert.equal(lengthBin(0.1), 0);
  assert.equal(lengthBin(1), LENGTH_BIN_EDGES.indexOf(1));
  assert.equal(lengthBin(0.999), LENGTH_BIN_EDGES.indexOf(1) - 1);
  assert.equal(lengthBin(99999), LENGTH_BIN_EDGES.length - 2);
});

test('every planned clip gets exactly one result; missing ones are job failures with the reason', () => {
  const planned = [{ key: 'a', id: 'a' }, { key: 'b', id: 'b' }, { key: 'c', id: 'c' }];
  const results = resolveClipResults(planned, [ok('a', 1), { status: 'filtered', key: 'c', id: 'c', reason: 'longer_than_max', message: 'long' }], ['worker died']);
  assert.deepEqual(results.map((r) => [r.key, r.status]), [['a', 'ok'], ['b', 'failed'], ['c', 'filtered']]);
  const lost = results[1]!;
  assert.ok(lost.status === 'failed' && lost.reason === 'job_failed' && lost.message.includes('worker died'));
});

test('shard stats count successes, failures and filters by reason and roll up into dataset stats', () => {
  const ref = { split: 'train' as const, source: 'demo', index: 0, name: 'demo-000000' };
  const results: ClipResult[] = [
    ok('a', 2),
    ok('b', 30),
    { status: 'failed', key: 'c', id: 'c', reason: 'decode_error', message: 'x' },
    { status: 'failed', key: 'd', id: 'd', reason: 'decode_error', message: 'x' },
    { status: 'filtered', key: 'e', id: 'e', reason: 'sample_rate_below_min', message: 'x' },
  ];
  const start = new Date('2026-01-01T00:00:00Z');
  const stats = buildShardStats(ref, results, { start, end: new Date(start.getTime() + 1500) }, 4096);
  assert.equal(stats.count, 5);
  assert.equal(stats.successes, 2);
  assert.equal(stats.failed, 2);
  assert.equal(stats.filtered, 1);
  assert.deepEqual(stats.failures_by_reason, { decode_error: 2 });
  assert.equal(stats.audio_seconds, 32);
  assert.equal(stats.duration, 1.5);
  assert.equal(stats.tally.histogram.reduce((a, b) => a + b, 0), 2);
  const other = buildShardStats({ ...ref, split: 'test', name: 'demo-000001', index: 1 }, [ok('f', 3600)], { start, end: start }, 1);
  const dataset = aggregateStats([stats, other]);
  assert.equal(dataset.totals.samples, 3);
  assert.equal(dataset.totals.failed, 2);
  assert.equal(dataset.totals.hours, (32 + 3600) / 3600);
  assert.equal(dataset.sources.demo!.clips, 6);
  assert.deepEqual(dataset.splits, { train: { shards: 1, samples: 2 }, test: { shards: 1, samples: 1 } });
});

test('tallies merge additively', () => {
  const a = emptyTally();
  const b = emptyTally();
  addSample(a, 1, 'cc0');
  addSample(b, 100, 'cc-by');
  mergeTally(a, b);
  assert.equal(a.samples, 2);
  assert.deepEqual(a.licenses, { cc0: 1, 'cc-by': 1 });
});
