import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisAnswers } from '../../infra/redis/connection.ts';
import { ensureRedis } from '../../infra/redis/local-redis.ts';

const DEAD = 'redis://127.0.0.1:1';

test('a Redis that answers is used as it is', async () => {
  const handle = await ensureRedis('redis://127.0.0.1:6379', { allowStart: true });
  assert.equal(handle.started, false);
  assert.equal(handle.url, 'redis://127.0.0.1:6379');
});

test('without a Redis, a private in-memory redis-server is started and stopped', async () => {
  const handle = await ensureRedis(DEAD, { allowStart: true });
  assert.equal(handle.started, true);
  assert.notEqual(handle.url, DEAD);
  assert.equal(await redisAnswers(handle.url), true);
  await handle.stop();
  assert.equal(await redisAnswers(handle.url, 300), false);
});

test('without a Redis or its binary, the error says how to get one', async () => {
  await assert.rejects(ensureRedis(DEAD, { allowStart: true, binary: '/nonexistent/redis-server' }), /apt-get install redis-server.*CLAPSET_REDIS_URL/);
  await assert.rejects(ensureRedis(DEAD, { allowStart: false }), /Redis does not answer at redis:\/\/127\.0\.0\.1:1/);
});
