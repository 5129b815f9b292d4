import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchAhead, mapPool } from '../../infra/pool.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('mapPool: at most `limit` calls at once, every item once, results in input order', async () => {
  let active = 0;
  let most = 0;
  const results = await mapPool([50, 10, 30, 5, 20, 1, 15], 3, async (ms, i) => {
    most = Math.max(most, ++active);
    await tick(ms);
    active--;
    return `${i}:${ms}`;
  });
  assert.equal(most, 3);
  assert.deepEqual(results, ['0:50', '1:10', '2:30', '3:5', '4:20', '5:1', '6:15']);
  assert.deepEqual(await mapPool([], 4, async () => 1), []);
});

test('mapPool: after a rejection no call starts, and it rejects once the running calls have settled', async () => {
  const started: number[] = [];
  let running = 0;
  await assert.rejects(
    mapPool([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      running++;
      await tick(i === 1 ? 5 : 30);
      running--;
      if (i === 1) throw new Error('storage away');
    }),
    /storage away/,
  );
  assert.equal(running, 0, 'nothing left running');
  assert.deepEqual(started, [0, 1], 'no call started after the failure');
});

test('fetchAhead: yields in order with at most `limit` fetches ahead, and a weight budget', async () => {
  let started = 0;
  let consumed = 0;
  let mostAhead = 0;
  const out: number[] = [];
  for await (const value of fetchAhead([1, 2, 3, 4, 5, 6, 7, 8], async (n) => {
    started++;
    mostAhead = Math.max(mostAhead, started - consumed);
    await tick(9 - n);
    return n * 10;
  }, { limit: 3 })) {
    consumed++;
    out.push(value);
  }
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70, 80]);
  assert.equal(mostAhead, 4, 'the item handed over plus 3 ahead');

  // Weights: what is fetched ahead of the item handed over stays within 10 units, unless it is one item alone.
  let held = 0;
  const windows: number[] = [];
  const weights = [6, 6, 3, 20, 1, 1];
  const seen: number[] = [];
  for await (const w of fetchAhead(weights, async (w) => {
    held += w;
    return w;
  }, { limit: 8, weight: (w) => w, maxWeight: 10 })) {
    held -= w;
    windows.push(held);
    seen.push(w);
  }
  assert.deepEqual(seen, weights);
  assert.deepEqual(windows, [9, 3, 20, 2, 1, 0]);
});

test('fetchAhead: a failed fetch is thrown when its turn comes', async () => {
  const out: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const v of fetchAhead([1, 2, 3], async (n) => {
        if (n === 2) throw new Error('gone');
        return n;
      }, { limit: 4 })) out.push(v);
    })(),
    /gone/,
  );
  assert.deepEqual(out, [1]);
});
