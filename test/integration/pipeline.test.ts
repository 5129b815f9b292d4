import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { readAllShardStats } from '../../dataset/finalise.ts';
import { runCrawl } from '../../crawl/run-crawl.ts';
import { verifyDataset } from '../../dataset/verify.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.ts';
import { makeCollection, readSamples, testQueueContext, TEST_REDIS_URL, type Collection } from '../helpers/pipeline-fixtures.ts';

let s3: S3ServerHandle;
let collection: Collection;
const ctx = testQueueContext();

before(async () => {
  s3 = await startS3Server({ bucket: 'pipeline-e2e' });
  Object.assign(process.env, s3.env, { CLAPSET_REDIS_URL: TEST_REDIS_URL });
  collection = await makeCollection({ goodCopies: 6 });
});

after(async () => {
  await ctx.close();
  await s3.stop();
  await rm(collection.root, { recursive: true, force: true });
});

test('two worker processes turn a collection into verified S3 shards: every valid clip exactly once, every bad one a counted failure', async () => {
  const config = configFromEnv();
  const uri = `s3://${s3.bucket}/e2e`;
  const crawl = crawlJobSchema.parse({
    dataset: { uri, shardSize: 5, chunkSize: 3, testFraction: 0.2 },
    source: { type: 'local', name: 'fixture', root: collection.root, license: 'cc-by-4.0' },
  });
  const logFile = join(tmpdir(), `clapset-e2e-${ctx.prefix}.log`);
  const summary = await runCrawl(config, ctx, crawl, { resume: false, localWorkers: 2, workerConcurrency: 2, workerLogFile: logFile, quiet: true });

  const store = openStore(uri, config);
  const report = await verifyDataset(store, await locateFfmpeg(config));
  assert.deepEqual(report.problems, []);

  const samples = await readSamples(store);
  const ids = samples.map((s) => s.json.provider_id as string);
  assert.deepEqual([...ids].sort(), [...collection.valid].sort(), 'every valid clip appears exactly once');
  for (const s of samples) {
    assert.equal(s.json.key, s.key);
    assert.equal(s.json.sample_rate, 48000);
    assert.equal(s.json.license, 'cc-by-4.0');
  }
  const surround = samples.find((s) => s.json.provider_id === 'Studio/Surround_96k_24bit.wav')!;
  assert.equal(surround.json.original_channels, 6);
  assert.equal(surround.json.original_sample_rate, 96000);
  assert.ok(Math.abs((surround.json.duration as number) - 2) < 0.05);
  assert.deepEqual(samples.find((s) => s.json.provider_id === 'Animals/Dog_bark.wav')!.json.text, ['Dog bark']);

  const outcomes = (await readAllShardStats(store)).flatMap((s) => s.clips);
  for (const [path, reason] of Object.entries(collection.invalid)) {
    const outcome = outcomes.find((o) => o.id === path);
    assert.equal(outcome?.status, 'failed', `${path} is a counted failure`);
    assert.equal(outcome?.reason, reason, `${path} failed as ${reason}`);
  }
  assert.equal(outcomes.length, collection.valid.length + Object.keys(collection.invalid).length, 'no clip lost');
  assert.equal(summary.samples, collection.valid.length);
  assert.equal(summary.failed, Object.keys(collection.invalid).length);

  const staging = [];
  for await (const object of store.list('_staging/')) staging.push(object.key);
  assert.deepEqual(staging, [], 'staging is cleared once shards are written');

  const logs = await readFile(logFile, 'utf8');
  assert.ok(logs.includes('worker started'), 'workers logged');
  assert.ok(!logs.includes(s3.env.AWS_SECRET_ACCESS_KEY!), 'the secret key never reaches a log line');
  await store.close();
});
