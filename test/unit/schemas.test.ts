import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { parseOrThrow, ValidationError } from '../../schemas/parse.ts';
import { sampleJsonSchema } from '../../schemas/sample.ts';

test('a rejected value names the field and the value', () => {
  assert.throws(
    () => parseOrThrow(crawlJobSchema, { dataset: { uri: '/x', shardSize: -3 }, source: { type: 'local', root: '/r' } }, 'crawl options'),
    (error: unknown) => error instanceof ValidationError && /dataset\.shardSize/.test(error.message) && /got -3/.test(error.message),
  );
  assert.throws(
    () => parseOrThrow(crawlJobSchema, { dataset: { uri: '/x' }, source: { type: 'ftp', root: '/r' } }, 'crawl options'),
    /source\.type.*got "ftp"/,
  );
});

test('crawl defaults follow LAION: 512 per shard, 90/10 split, no filters', () => {
  const job = parseOrThrow(crawlJobSchema, { dataset: { uri: '/x' }, source: { type: 'local', root: '/r' } }, 'crawl');
  assert.equal(job.dataset.shardSize, 512);
  assert.equal(job.dataset.testFraction, 0.1);
  assert.deepEqual(job.dataset.filters, { maxDurationSec: null, minSampleRate: null });
  assert.equal(job.source.name, 'local');
});

test('sample JSON keeps LAION key names and refuses dotted keys', () => {
  const sample = {
    key: 'demo-abc', text: ['Dog bark'], tag: ['Animals'], original_data: {}, source: 'demo', provider_id: 'a.wav', license: null,
    duration: 1.5, sample_rate: 48000, channels: 1, original_sample_rate: 44100, original_channels: 2, original_codec: 'pcm_s16le', original_format: 'wav',
  };
  assert.equal(parseOrThrow(sampleJsonSchema, sample, 'sample').tag[0], 'Animals');
  assert.throws(() => parseOrThrow(sampleJsonSchema, { ...sample, key: 'a.b' }, 'sample'), /key: keys contain no dot/);
  assert.throws(() => parseOrThrow(sampleJsonSchema, { ...sample, sample_rate: 44100 }, 'sample'), /sample_rate/);
});

test('configuration comes from the environment', () => {
  const config = configFromEnv({ CLAPSET_REDIS_URL: 'redis://10.0.0.1:6380', CLAPSET_PREFIX: 'p1', CLAPSET_S3_ENDPOINT: 'http://127.0.0.1:9000' });
  assert.equal(config.redisUrl, 'redis://10.0.0.1:6380');
  assert.equal(config.prefix, 'p1');
  assert.equal(config.s3.forcePathStyle, true);
  assert.throws(() => configFromEnv({ CLAPSET_PREFIX: 'bad:prefix' }), /prefix/);
});
