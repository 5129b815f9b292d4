import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDatasetCard } from '../../dataset/dataset-card.ts';
import { datasetManifestSchema } from '../../schemas/manifest.ts';
import { buildShardStats } from '../../workers/shard/shard-stats.ts';
import { aggregateStats } from '../../workers/shard/tally.ts';

const start = new Date('2026-01-01T00:00:00Z');
const shard = (source: string, split: 'train' | 'test', index: number, seconds: number[]) =>
  buildShardStats(
    { split, source, index, name: `${source}-${String(index).padStart(6, '0')}` },
    seconds.map((duration, i) => ({ status: 'ok' as const, key: `${source}-${index}-${i}`, id: String(i), duration, flacBytes: 1, jsonBytes: 1, license: 'cc0' })),
    { start, end: start },
    1,
  );

test('the dataset card lists sources beside LAION, caption provenance, settings, brace URLs and a loader snippet', () => {
  const shards = [shard('freesound', 'train', 0, [3600, 1800]), shard('freesound', 'train', 1, [7200]), shard('bbc', 'test', 0, [360])];
  const manifest = datasetManifestSchema.parse({
    format: 'clapset/webdataset-v1',
    clapset_version: '9.9.9',
    updated_at: start.toISOString(),
    dataset: { uri: 's3://bucket/corpus', caption: { model: 'mrm8488/t5-base-finetuned-common_gen' } },
    sources: [{ type: 'local', root: '/r' }],
    audio: { sample_rate: 48000, channels: 1, codec: 'flac' },
    members: ['flac', 'json'],
    embedding: { model: 'Xenova/larger_clap_general', dim: 512 },
  });
  const card = renderDatasetCard({ stats: aggregateStats(shards, start), manifest, shards, home: { kind: 's3', bucket: 'bucket', prefix: 'corpus/', endpoint: null } });
  assert.match(card, /\| freesound \| 3 \| 3\.50 \| 0 \| 0 \| cc0 \(3\) \| 515581 \/ 3,003\.38 h \|/);
  assert.match(card, /\| bbc \| 1 \| 0\.10 \|/);
  assert.match(card, /\*\*total\*\* \| 4 \| 3\.60/);
  assert.match(card, /T5 model `mrm8488\/t5-base-finetuned-common_gen`/);
  assert.match(card, /shard size 512, test fraction 0\.1/);
  assert.match(card, /pipe:aws s3 cp s3:\/\/bucket\/corpus\/train\/freesound-\{000000\.\.000001\}\.tar -/);
  assert.match(card, /s3:\/\/bucket\/corpus\/test\/bbc-000000\.tar/);
  assert.match(card, /import webdataset as wds/);
  assert.match(card, /CLAP \(`Xenova\/larger_clap_general`\) audio and text embeddings, 512-dimensional/);
});
