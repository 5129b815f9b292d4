import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EmbeddingMetadataRow, decodeMetadataParquet, encodeMetadataParquet, metadataKeys } from '../../infra/parquet.ts';

describe('embedding metadata parquet', () => {
  test('round trip through hyparquet-writer and hyparquet', async () => {
    const rows: EmbeddingMetadataRow[] = Array.from({ length: 600 }, (_, i) => ({
      key: `freesound-${i.toString(16).padStart(8, '0')}`,
      caption: i % 3 === 0 ? '' : `a dog barks ${i} times — ünïcödé, "quoted", 🐕`,
      source: i % 2 ? 'freesound' : 'bbc',
      duration: i * 0.125 + 0.3,
    }));
    const bytes = encodeMetadataParquet(rows);
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
    assert.equal(bytes.subarray(-4).toString(), 'PAR1');
    assert.deepEqual(await decodeMetadataParquet(bytes), rows);
    assert.deepEqual(await metadataKeys(bytes), rows.map((r) => r.key));
  });

  test('an empty table', async () => {
    assert.deepEqual(await decodeMetadataParquet(encodeMetadataParquet([])), []);
  });
});
