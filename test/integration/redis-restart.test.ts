import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { STAGES } from '../../infra/queues.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { collectionForTests, readSamples, finishedShardCount } from '../helpers/pipeline-fixtures.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const fixture = collectionForTests({ goodCopies: 10 }, 'redis-restart');


test('a Redis with AOF restarted mid-crawl: workers and the waiting CLI reconnect, the crawl continues, nothing is lost', async (t) => {
  // A private server: the shared Redis is never restarted.
  const aof = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', fixture.out];
  let redis = await startRedisServer({ args: aof });
  const dataset = join(fixture.out, 'dataset');
  const env = { ...process.env, CLAPSET_REDIS_URL: redis.url, CLAPSET_PREFIX: 'clapset-test-restart' };
  const workers = spawnLocalWorkers(2, { env, stages: STAGES, concurrency: 1, logFile: join(fixture.out, 'workers.log') });
  try {
    const crawl = runCli(['crawl', 'local', '--root', fixture.collection.root, '--name', 'restart', '--dataset', dataset, '--shard-size', '2', '--chunk-size', '1', '--max-shards-in-flight', '1', '--json'], env);
    for (let i = 0; i < 1200 && finishedShardCount(dataset) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    const before = finishedShardCount(dataset);
    assert.ok(before >= 1, 'a shard was done before the restart');
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1000));
    redis = await startRedisServer({ port: redis.port, args: aof });
    const done = await crawl;
    assert.equal(done.code, 0, done.stderr);
    const summary = lastJsonLine<{ samples: number }>(done.stdout);
    assert.equal(summary.samples, fixture.collection.valid.length);
    const samples = await readSamples(openStore(dataset));
    assert.equal(samples.length, fixture.collection.valid.length);
    assert.equal(new Set(samples.map((s) => s.key)).size, samples.length, 'no sample twice');
    t.diagnostic(`restarted Redis after ${before} of ${finishedShardCount(dataset)} shards`);
    assert.equal((await runCli(['verify', dataset], env)).code, 0);
  } finally {
    await workers.stop();
    await redis.stop();
  }
});
