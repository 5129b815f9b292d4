import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TopK } from '../../search/top-k.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

describe('TopK', () => {
  test('keeps exactly the k best of a stream, best first, ties by order', () => {
    const random = new SeededRandom(9);
    // Few distinct scores, so ties are common.
    const items = Array.from({ length: 5000 }, (_, order) => ({ score: Math.floor(random.next() * 50), order }));
    for (const k of [1, 3, 10, 100]) {
      const top = new TopK<(typeof items)[number]>(k);
      for (const item of items) top.push(item);
      const expected = [...items].sort((a, b) => b.score - a.score || a.order - b.order).slice(0, k);
      assert.deepEqual(top.sorted(), expected, `k=${k}`);
    }
  });

  test('fewer items than k; threshold opens once full', () => {
    const top = new TopK(3);
    assert.equal(top.threshold, Number.NEGATIVE_INFINITY);
    top.push({ score: 0.5, order: 0 });
    top.push({ score: 0.9, order: 1 });
    assert.deepEqual(top.sorted().map((i) => i.score), [0.9, 0.5]);
    top.push({ score: 0.1, order: 2 });
    assert.equal(top.threshold, 0.1);
  });

  test('k must be positive', () => {
    assert.throws(() => new TopK(0), /positive/);
  });
});
