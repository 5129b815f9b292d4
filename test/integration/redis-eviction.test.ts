import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.ts';

const BIN = fileURLToPath(new URL('../../bin/clapset.js', import.meta.url));

// A private redis-server that may evict keys: the shared Redis must never be reconfigured.
let redis: RedisServerHandle;
let url: string;

before(async () => {
  redis = await startRedisServer({ args: ['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], password: 'hunter2-redis-secret' });
  url = redis.url;
});

after(() => redis.stop());

const env = () => ({ ...process.env, CLAPSET_REDIS_URL: url, CLAPSET_PREFIX: 'clapset-test-eviction' });

test('a worker refuses a Redis that may evict keys, saying how to fix it, and never prints the Redis password', async () => {
  const refused = await runCli(['worker', '--queues', 'transcode'], env());
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /maxmemory-policy is allkeys-lru, not noeviction/);
  assert.match(refused.stderr, /CONFIG SET maxmemory-policy noeviction/);
  assert.match(refused.stderr, /--allow-eviction-policy/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /hunter2-redis-secret/);

  const crawl = await runCli(['crawl', 'local', '--root', '/nonexistent', '--dataset', '/tmp/clapset-eviction-never'], env());
  assert.notEqual(crawl.code, 0);
  assert.match(crawl.stderr, /clapset crawl refuses to run/);
});

test('with --allow-eviction-policy the worker runs (with a warning) and drains on SIGTERM', async () => {
  const child = spawn(process.execPath, [BIN, 'worker', '--queues', 'transcode', '--allow-eviction-policy'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit');
  for (let i = 0; i < 300 && !stderr.includes('worker started'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(stderr, /Redis may evict keys; running anyway/);
  assert.match(stderr, /worker started/);
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /hunter2-redis-secret/);
});

test('doctor reports the policy, persistence and memory without the password', async () => {
  const doctor = await runCli(['doctor'], env());
  assert.match(doctor.stdout, /maxmemory-policy allkeys-lru: WRONG/);
  assert.match(doctor.stdout, /persistence: AOF off/);
  assert.match(doctor.stdout, /memory .* used of/);
  assert.match(doctor.stdout, /redis:\/\/\*\*\*@127\.0\.0\.1/);
  assert.doesNotMatch(doctor.stdout + doctor.stderr, /hunter2-redis-secret/);
});
