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

test('an S3 card without a public URL loads HF datasets through s3fs at the custom endpoint; a local card has path snippets only', () => {
  const shards = [shard('bbc', 'train', 0, [5]), shard('bbc', 'train', 1, [5]), shard('bbc', 'test', 0, [5])];
  const stats = aggregateStats(shards, start);
  const s3 = renderDatasetCard({ stats, manifest: null, shards, home: { kind: 's3', bucket: 'bucket', prefix: '', endpoint: 'http://minio:9000' } });
  assert.match(s3, /"train": list\(braceexpand\("s3:\/\/bucket\/train\/bbc-\{000000\.\.000001\}\.tar"\)\),/);
  assert.match(s3, /streaming=True, storage_options=\{"client_kwargs": \{"endpoint_url": "http:\/\/minio:9000"\}\}\)/);
  assert.match(s3, /urls = "pipe:s5cmd --endpoint-url http:\/\/minio:9000 cat s3:\/\/bucket\/train\/bbc-\{000000\.\.000001\}\.tar"/);
  assert.doesNotMatch(s3, /https form|, https: /);
  const local = renderDatasetCard({ stats, manifest: null, shards, home: { kind: 'local', root: '/data/corpus' } });
  assert.match(local, /urls = "\/data\/corpus\/train\/bbc-\{000000\.\.000001\}\.tar"/);
  assert.match(local, /\| test \| 1 \| 1 \| `\/data\/corpus\/test\/sizes.json` \|/);
  assert.doesNotMatch(local, /pipe:aws|pipe:s5cmd|s3:\/\/bucket|storage_options/);
});
