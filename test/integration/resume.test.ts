import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { STAGES } from '../../infra/queues.ts';
import { deletePrefixedKeys } from '../../infra/redis/connection.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { submitCrawl } from '../../crawl/crawl-control.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { runCrawl } from '../../crawl/run-crawl.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { collectionForTests, readSamples, testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

before(() => {
  process.env.CLAPSET_REDIS_URL = TEST_REDIS_URL;
});
const fixture = collectionForTests({ goodCopies: 14 }, 'resume');

const crawlInto = (uri: string) =>
  crawlJobSchema.parse({
    dataset: { uri, shardSize: 3, chunkSize: 1, testFraction: 0.2 },
    source: { type: 'local', name: 'fixture', root: fixture.collection.root },
    maxShardsInFlight: 1,
  });

const statsFiles = (dir: string) =>
  ['train', 'test'].flatMap((split) => (existsSync(join(dir, split)) ? readdirSync(join(dir, split)).filter((f) => f.endsWith('_stats.json')) : []));

test('a crawl killed mid-run, its Redis keys deleted, resumes with --resume to the same dataset as an uninterrupted run', async () => {
  const config = configFromEnv();
  const reference = join(fixture.out, 'reference');
  const interrupted = join(fixture.out, 'interrupted');

  const refCtx = testQueueContext();
  await runCrawl(config, refCtx, crawlInto(reference), { resume: false, localWorkers: 2, workerConcurrency: 2, quiet: true });
  await refCtx.close();
  const totalShards = statsFiles(reference).length;
  assert.ok(totalShards >= 6, `the reference run wrote ${totalShards} shards`);

  // First attempt: one worker, killed with SIGKILL as soon as some (not all) shards are done.
  const ctx = testQueueContext();
  const env = { ...process.env, CLAPSET_PREFIX: ctx.prefix };
  const workers = spawnLocalWorkers(1, { env, stages: STAGES, concurrency: 1, logFile: join(fixture.out, 'killed-worker.log') });
  await submitCrawl(ctx, openStore(interrupted, config), crawlInto(interrupted), { resume: false });
  const deadline = Date.now() + 60_000;
  while (statsFiles(interrupted).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  workers.processes[0]!.kill('SIGKILL');
  await workers.stop();
  const doneBeforeKill = statsFiles(interrupted).length;
  assert.ok(doneBeforeKill >= 1 && doneBeforeKill < totalShards, `killed after ${doneBeforeKill} of ${totalShards} shards`);
  assert.ok((await deletePrefixedKeys(ctx.connection, ctx.prefix)) > 0, "the project's Redis keys existed and are gone");

  // Without --resume the CLI refuses to touch the half-made dataset.
  const refused = await runCli(['crawl', 'local', '--root', fixture.collection.root, '--name', 'fixture', '--dataset', interrupted, '--shard-size', '3', '--chunk-size', '1', '--test-fraction', '0.2'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already holds a dataset; pass --resume/);

  const resumed = await runCli(
    ['crawl', 'local', '--root', fixture.collection.root, '--name', 'fixture', '--dataset', interrupted, '--shard-size', '3', '--chunk-size', '1', '--test-fraction', '0.2', '--resume', '--workers', '2', '--json'],
    env,
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  const summary = lastJsonLine<{ shardsSkipped: number; shardsDone: number; samples: number }>(resumed.stdout);
  assert.ok(summary.shardsSkipped >= doneBeforeKill, `finished shards were skipped (${summary.shardsSkipped})`);
  assert.equal(summary.shardsSkipped + summary.shardsDone, totalShards);
  await ctx.close();

  const key = (s: { split: string; tar: string; key: string; flacSha256: string; json: unknown }) => JSON.stringify([s.tar.split('/').slice(-2).join('/'), s.key, s.flacSha256, s.json]);
  const expected = (await readSamples(openStore(reference, config))).map(key).sort();
  const actual = (await readSamples(openStore(interrupted, config))).map(key).sort();
  assert.equal(new Set(actual).size, actual.length, 'no duplicate sample');
  assert.deepEqual(actual, expected, 'same shards, same samples, same bytes');
  assert.equal(summary.samples, fixture.collection.valid.length);
});
