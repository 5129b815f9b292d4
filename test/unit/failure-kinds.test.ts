import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureKind, FAILURE_REASONS } from '../../schemas/failure.ts';
import { buildShardStats, resolveClipResults, transientFailures } from '../../workers/shard/shard-stats.ts';
import { isTransientError, transientDelayMs } from '../../workers/transient.ts';
import { chainedClipResults } from '../../workers/child-results.ts';
import { UnrecoverableError } from 'bullmq';
import { transientlyLost } from '../../dataset/verify.ts';

const planned = [{ key: 'a', id: 'a' }, { key: 'b', id: 'b' }];

test('only job_failed is transient; every clip-intrinsic reason is final', () => {
  assert.deepEqual(FAILURE_REASONS.filter((r) => failureKind(r) === 'transient'), ['job_failed']);
  assert.equal(failureKind('worker_lost'), 'clip');
  assert.equal(failureKind('decode_error'), 'clip');
});

test('a chunk that stalled its workers past the limit is worker_lost (final); any other lost chunk is transient', () => {
  const stalled = resolveClipResults(planned, [], ['job stalled more than allowable limit']);
  assert.ok(stalled.every((r) => r.status === 'failed' && r.reason === 'worker_lost'));
  assert.equal(transientFailures(stalled).length, 0);
  const storage = resolveClipResults(planned, [], ['job stalled more than allowable limit', 'transient trouble for 901 s, past the 900-s retry window: EACCES']);
  assert.equal(transientFailures(storage).length, 2);
  // No failure recorded at the shard (the chunk failed below a caption job): not known to be the clip's fault.
  assert.equal(transientFailures(resolveClipResults(planned, [], [])).length, 2);
});

test('a caption or embed job whose chunk failed for good fails with that reason, so the shard still tells worker_lost from transient', async () => {
  type Handle = Parameters<typeof chainedClipResults>[0];
  const handle = (values: Record<string, unknown>, failures: Record<string, string>) =>
    ({ getChildrenValues: async () => values, getIgnoredChildrenFailures: async () => failures }) as unknown as Handle;
  const failure = (h: Handle) => chainedClipResults(h).then(() => assert.fail('resolved'), (error: Error) => error);
  const caption = await failure(handle({}, { 'bull:transcode:c0': 'job stalled more than allowable limit' }));
  assert.ok(caption instanceof UnrecoverableError && !isTransientError(caption), 'not retried');
  const embed = await failure(handle({}, { 'bull:caption:c0': caption.message })); // one stage further up
  assert.ok(resolveClipResults(planned, [], [embed.message]).every((r) => r.status === 'failed' && r.reason === 'worker_lost'));
  const storage = await failure(handle({}, { 'bull:transcode:c0': 'transient trouble for 901 s, past the 900-s retry window: Connection is closed.' }));
  assert.ok(!isTransientError(storage), 'ends for good although it quotes a transient message');
  assert.equal(transientFailures(resolveClipResults(planned, [], [storage.message])).length, 2, 'its clips stay transient at the shard');
  const results = [{ status: 'failed', key: 'a', id: 'a', reason: 'decode_error', message: 'x' }];
  assert.deepEqual(await chainedClipResults(handle({ 'bull:transcode:c0': results }, {})), results);
});

test('shard stats record each failure kind, and verify finds transient losses also in stats of older runs (no kind)', () => {
  const ref = { split: 'train' as const, source: 's', index: 0, name: 's-000000' };
  const now = new Date();
  const stats = buildShardStats(ref, resolveClipResults(planned, [{ status: 'failed', key: 'a', id: 'a', reason: 'decode_error', message: 'x' }], ['boom']), { start: now, end: now }, 0);
  assert.deepEqual(stats.clips.map((c) => [c.key, c.kind]), [['a', 'clip'], ['b', 'transient']]);
  assert.deepEqual(transientlyLost(stats), ['b']);
  const older = { ...stats, clips: stats.clips.map(({ kind: _kind, ...c }) => c) };
  assert.deepEqual(transientlyLost(older), ['b']);
});

test('storage, network and Redis trouble is transient, found through the cause chain; bugs are not', () => {
  const wrapped = (cause: Error) => new Error('S3 put failed', { cause });
  assert.ok(isTransientError(wrapped(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))));
  assert.ok(isTransientError(Object.assign(new Error('permission denied'), { code: 'EACCES' })));
  assert.ok(isTransientError(wrapped(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }))));
  assert.ok(isTransientError(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 500 } })));
  assert.ok(isTransientError(new Error('Connection is closed.')));
  assert.ok(!isTransientError(new TypeError('undefined is not a function')));
  assert.ok(!isTransientError(Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } })));
});

test('transient backoff doubles from 2 s and stays at a minute', () => {
  assert.deepEqual([0, 1, 2, 5, 6, 30].map(transientDelayMs), [2000, 4000, 8000, 60_000, 60_000, 60_000]);
});
