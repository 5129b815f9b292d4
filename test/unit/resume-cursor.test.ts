import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIntegerCursor } from '../../sources/cursor.ts';

const FREESOUND = { page: 1, index: -1 };

test('a cursor of integers at or above their minimums comes back with just those fields', () => {
  assert.equal(parseIntegerCursor('freesound', undefined, FREESOUND, '{"page":n,"index":i}'), null);
  assert.deepEqual(parseIntegerCursor('freesound', '{"page":3,"index":-1,"extra":true}', FREESOUND, '{"page":n,"index":i}'), { page: 3, index: -1 });
  assert.deepEqual(parseIntegerCursor('epidemic', '{"category":-2,"page":1,"index":7}', { category: -Infinity, page: 1, index: -Infinity }, '…'), { category: -2, page: 1, index: 7 });
});

test('anything else is an error naming the source and the expected shape', () => {
  for (const bad of ['{"page":0,"index":1}', '{"page":2,"index":-2}', '{"page":2.5,"index":1}', '{"page":"2","index":1}', '{"page":2}', 'not json', '[]']) {
    assert.throws(() => parseIntegerCursor('freesound', bad, FREESOUND, '{"page":n,"index":i}'), { message: `freesound: bad resume cursor ${JSON.stringify(bad)} (expected {"page":n,"index":i})` }, bad);
  }
});
