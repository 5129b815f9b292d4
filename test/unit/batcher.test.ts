/** The batcher's flush rules and bookkeeping, with a plain function standing in for the session. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher } from '../../workers/batching/batcher.ts';

function recorder(lingerMs = 1000, maxBatch = 4) {
  const runs: number[][] = [];
  const batcher = new Batcher<number, number>({
    name: 'test',
    maxBatch,
    lingerMs,
    run: async (items) => {
      runs.push([...items]);
      await sleep(5);
      if (items.includes(-1)) throw new Error('bad item');
      return items.map((x) => x * 10);
    },
  });
  return { batcher, runs };
}

test('an undeclared lone request runs at once; results come back in order', async () => {
  const { batcher, runs } = recorder();
  const started = performance.now();
  assert.deepEqual(await batcher.submit([1, 2, 3]), [10, 20, 30]);
  assert.ok(performance.now() - started < 500, 'no linger for a lone request');
  assert.deepEqual(runs, [[1, 2, 3]]);
});

test('declared jobs: the run waits until every one of them waits, then takes all their items', async () => {
  const { batcher, runs } = recorder();
  const leaves = [batcher.enter(), batcher.enter(), batcher.enter()];
  const a = batcher.submit([1]);
  const b = batcher.submit([2]);
  await sleep(20);
  assert.equal(runs.length, 0, 'a third declared job has not submitted yet');
  const c = batcher.submit([3]);
  assert.deepEqual(await Promise.all([a, b, c]), [[10], [20], [30]]);
  assert.deepEqual(runs, [[1, 2, 3]]);
  leaves.forEach((leave) => leave());
  assert.equal(batcher.stats.mergedRuns, 1);
  assert.equal(batcher.stats.maxRequestsPerRun, 3);
});

test('a declared job that leaves without submitting releases the others; linger bounds the wait', async () => {
  const { batcher, runs } = recorder();
  const [leaveA, leaveB] = [batcher.enter(), batcher.enter()];
  const a = batcher.submit([1]);
  await sleep(20);
  assert.equal(runs.length, 0);
  leaveB();
  assert.deepEqual(await a, [10]);
  leaveA();
  const lingering = recorder(30);
  lingering.batcher.enter();
  lingering.batcher.enter();
  const started = performance.now();
  assert.deepEqual(await lingering.batcher.submit([5]), [50]);
  assert.ok(performance.now() - started >= 25, 'waited for the linger');
  assert.equal(lingering.batcher.stats.flushes.linger, 1);
});

test('a full batch runs at once; groups never share a run; batches never exceed maxBatch', async () => {
  const { batcher, runs } = recorder(1000, 4);
  batcher.enter();
  batcher.enter();
  const results = await batcher.submit([1, 2, 3, 4, 5, 6, 7, 8, 9].map((x) => x), (x) => x % 2);
  assert.deepEqual(results, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
  for (const run of runs) {
    assert.ok(run.length <= 4);
    assert.equal(new Set(run.map((x) => x % 2)).size, 1, `one group per run: ${run}`);
  }
  assert.ok(batcher.stats.flushes.full >= 2);
});

test('a merged run that throws is retried per request: only the bad request fails', async () => {
  const { batcher } = recorder();
  const leaves = [batcher.enter(), batcher.enter(), batcher.enter()];
  const settled = await Promise.allSettled([batcher.submit([1, 2]), batcher.submit([3, -1]), batcher.submit([4])]);
  leaves.forEach((leave) => leave());
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual((settled[0] as PromiseFulfilledResult<number[]>).value, [10, 20]);
  assert.deepEqual((settled[2] as PromiseFulfilledResult<number[]>).value, [40]);
  assert.equal(batcher.stats.splitRetries, 1);
  assert.equal(batcher.stats.failedRequests, 1);
});
