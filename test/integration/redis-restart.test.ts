import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { STAGES } from '../../infra/queues.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { makeCollection, readSamples, type Collection, finishedShardCount } from '../helpers/pipeline-fixtures.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

let collection: Collection;
let out: string;

before(async () => {
  collection = await makeCollection({ goodCopies: 10 });
  out = await mkdtemp(join(tmpdir(), 'clapset-redis-restart-'));
});

after(async () => {
  await rm(collection.root, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});


test('a Redis with AOF restarted mid-crawl: workers and the waiting CLI reconnect, the crawl continues, nothing is lost', async (t) => {
  // A private server: the shared Redis is never restarted.
  const aof = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', out];
  let redis = await startRedisServer({ args: aof });
  const dataset = join(out, 'dataset');
  const env = { ...process.env, CLAPSET_REDIS_URL: redis.url, CLAPSET_PREFIX: 'clapset-test-restart' };
  const workers = spawnLocalWorkers(2, { env, stages: STAGES, concurrency: 1, logFile: join(out, 'workers.log') });
  try {
    const crawl = runCli(['crawl', 'local', '--root', collection.root, '--name', 'restart', '--dataset', dataset, '--shard-size', '2', '--chunk-size', '1', '--max-shards-in-flight', '1', '--json'], env);
    for (let i = 0; i < 1200 && finishedShardCount(dataset) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    const before = finishedShardCount(dataset);
    assert.ok(before >= 1, 'a shard was done before the restart');
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1000));
    redis = await startRedisServer({ port: redis.port, args: aof });
    const done = await crawl;
    assert.equal(done.code, 0, done.stderr);
    const summary = lastJsonLine<{ samples: number }>(done.stdout);
    assert.equal(summary.samples, collection.valid.length);
    const samples = await readSamples(openStore(dataset));
    assert.equal(samples.length, collection.valid.length);
    assert.equal(new Set(samples.map((s) => s.key)).size, samples.length, 'no sample twice');
    t.diagnostic(`restarted Redis after ${before} of ${finishedShardCount(dataset)} shards`);
    assert.equal((await runCli(['verify', dataset], env)).code, 0);
  } finally {
    await workers.stop();
    await redis.stop();
  }
});
