import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Job } from 'bullmq';
import { STAGES, jobIds, openQueue } from '../../infra/queues.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { collectionForTests, readSamples, testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.ts';
import { configFromEnv } from '../../schemas/config.ts';

const fixture = collectionForTests({}, 'outage-s3');

/** Resolves once the crawl job of `uri` has planned its first shard (before any can be written). */
async function firstShardPlanned(ctx: ReturnType<typeof testQueueContext>, uri: string): Promise<void> {
  const queue = openQueue(ctx, 'crawl');
  const id = jobIds.crawl(uri, 'fixture');
  try {
    for (let i = 0; i < 1200; i++) {
      const progress = (await Job.fromId(queue, id))?.progress as { shardsPlanned?: number } | undefined;
      if ((progress?.shardsPlanned ?? 0) >= 1) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the crawl never planned a shard');
  } finally {
    await queue.close();
  }
}

// The issue asks for 2 minutes; CI runs a shorter outage (CLAPSET_TEST_OUTAGE_S=120 for the full one).
const OUTAGE_S = Number(process.env.CLAPSET_TEST_OUTAGE_S ?? 25);

test(`S3 down for ${OUTAGE_S} s mid-crawl (within the retry window): work waits, every valid clip ends in a sample, the crawl succeeds`, async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'clapset-outage-short-'));
  let s3: S3ServerHandle = await startS3Server({ directory });
  const port = Number(new URL(s3.endpoint).port);
  Object.assign(process.env, s3.env);
  const ctx = testQueueContext();
  const env = { ...process.env, ...s3.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_RETRY_WINDOW_S: String(OUTAGE_S * 4) };
  const uri = `s3://${s3.bucket}/short`;
  const workers = spawnLocalWorkers(2, { env, stages: STAGES, concurrency: 1, logFile: join(directory, '..', `clapset-outage-short-${ctx.prefix}.log`) });
  try {
    const crawl = runCli(['crawl', 'local', '--root', fixture.collection.root, '--name', 'fixture', '--dataset', uri, '--shard-size', '4', '--chunk-size', '2', '--test-fraction', '0.2', '--json'], env);
    await firstShardPlanned(ctx, uri);
    await s3.stop();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
    s3 = await startS3Server({ directory, port });
    const result = await crawl;
    assert.equal(result.code, 0, result.stderr);
    const summary = lastJsonLine<{ samples: number; failed: number }>(result.stdout);
    assert.equal(summary.samples, fixture.collection.valid.length, 'every valid clip is a sample, as in an uninterrupted run');
    assert.equal(summary.failed, Object.keys(fixture.collection.invalid).length, 'only the corrupt files failed');
    t.diagnostic(`crawl finished ${((Date.now() - down) / 1000).toFixed(1)} s after storage went away for ${OUTAGE_S} s`);
    const store = openStore(uri, configFromEnv(env));
    const samples = await readSamples(store);
    assert.deepEqual(samples.map((s) => s.json.provider_id).sort(), [...fixture.collection.valid].sort());
    await store.close();
    assert.equal((await runCli(['verify', uri], env)).code, 0);
  } finally {
    await workers.stop();
    await s3.stop();
    await ctx.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('storage down past the retry window: the crawl fails naming unfinished shards, nothing is marked done with lost clips, repair completes it', async () => {
  let s3: S3ServerHandle = await startS3Server({ directory: fixture.out });
  const port = Number(new URL(s3.endpoint).port);
  Object.assign(process.env, s3.env); // this process reads the bucket back too
  const ctx = testQueueContext();
  // A 3-s window keeps the test short; production's default is 15 min.
  const env = { ...process.env, ...s3.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_RETRY_WINDOW_S: '3' };
  const uri = `s3://${s3.bucket}/outage`;
  const args = ['crawl', 'local', '--root', fixture.collection.root, '--name', 'fixture', '--dataset', uri, '--shard-size', '4', '--chunk-size', '2', '--test-fraction', '0.2'];
  const workers = spawnLocalWorkers(2, { env, stages: STAGES, concurrency: 1, logFile: join(tmpdir(), `clapset-outage-${ctx.prefix}.log`) });
  try {
    const crawl = runCli(args, env);
    // Storage goes away once the crawl has planned its first shard, before any can be written.
    await firstShardPlanned(ctx, uri);
    await s3.stop();
    const failed = await crawl;
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stderr, /unfinished/);
    assert.match(failed.stderr, /(train|test)\/fixture-\d{6}/, 'the error names the unfinished shards');
    assert.match(failed.stderr, /clapset repair/);

    s3 = await startS3Server({ directory: fixture.out, port });
    const store = openStore(uri, configFromEnv(env));
    const stillDone = [];
    for await (const o of store.list('')) if (o.key.endsWith('_stats.json')) stillDone.push(o.key);
    // No shard was marked done holding a clip lost to the outage.
    for (const key of stillDone) {
      const stats = JSON.parse((await store.getBuffer(key)).toString('utf8')) as { clips: { kind?: string }[] };
      assert.ok(stats.clips.every((c) => c.kind !== 'transient'), `${key} holds no transient failure`);
    }

    const repaired = await runCli(['repair', uri, '--json'], env);
    assert.equal(repaired.code, 0, repaired.stderr);
    const summary = lastJsonLine<{ redone: { shard: string; why: string }[]; samples: number }>(repaired.stdout);
    assert.ok(summary.redone.length >= 1, `repair redid ${JSON.stringify(summary.redone)}`);
    assert.equal(summary.samples, fixture.collection.valid.length);

    const verify = await runCli(['verify', uri], env);
    assert.equal(verify.code, 0, verify.stdout);
    const samples = await readSamples(store);
    assert.equal(samples.length, fixture.collection.valid.length);
    assert.equal(new Set(samples.map((s) => s.key)).size, samples.length, 'no duplicates');
    await store.close();
  } finally {
    await workers.stop();
    await s3.stop();
    await ctx.close();
  }
});
