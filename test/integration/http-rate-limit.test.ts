/**
 * The rate limit holds across processes: three separate worker processes crawl the Freesound fixture
 * at once through their own clients, sharing only Redis. The fixture counts API arrivals in every
 * sliding window; the most it ever saw must not pass the limit, and it must never have throttled us.
 * This file is also the child: with CLAPSET_HAMMER_CHILD set it crawls once and prints the ids.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { readProviderCounters } from '../../infra/http/counters.ts';
import { freesoundSourceSpecSchema } from '../../schemas/source-spec.ts';
import { FreesoundSource } from '../../sources/freesound/freesound-source.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { TEST_REDIS_URL, testQueueContext } from '../helpers/pipeline-fixtures.ts';

const LIMIT = { limit: 30, windowMs: 1000 };

function childSpec(apiBase: string, host: string) {
  return freesoundSourceSpecSchema.parse({ type: 'freesound', apiBase, mediaHosts: [host], pageSize: 1, rate: [LIMIT] });
}

async function runChild(): Promise<void> {
  const { apiBase, host, prefix } = JSON.parse(process.env.CLAPSET_HAMMER_CHILD!) as { apiBase: string; host: string; prefix: string };
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const source = new FreesoundSource(childSpec(apiBase, host), { redis, prefix, http: { retries: 8, backoff: { baseMs: 50, capMs: 400, retryAfterCapMs: 1000 } } });
    const ids: string[] = [];
    for await (const record of source.records()) ids.push(record.id);
    process.stdout.write(`${JSON.stringify(ids)}\n`);
  } finally {
    redis.disconnect();
  }
}

function spawnChild(config: object): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      env: { ...process.env, CLAPSET_HAMMER_CHILD: JSON.stringify(config), FREESOUND_API_KEY: (config as { key: string }).key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

if (process.env.CLAPSET_HAMMER_CHILD) {
  await runChild();
} else {
  const ctx = testQueueContext();
  let fx: FreesoundFixture;

  before(async () => {
    fx = await startFreesoundFixture({ throttle: LIMIT });
  });
  after(async () => {
    await fx.close();
    await ctx.close();
  });

  describe('rate limit across processes', () => {
    it('three worker processes sharing Redis never exceed the provider limit', async () => {
      const config = { apiBase: fx.apiBase, host: fx.host, prefix: ctx.prefix, key: fx.apiKey };
      const started = Date.now();
      const results = await Promise.all([spawnChild(config), spawnChild(config), spawnChild(config)]);
      const elapsed = Date.now() - started;
      const expected = fx.sounds.filter((s) => !s.deleted && s.duration <= 180 && s.samplerate >= 16000).length;
      for (const result of results) {
        assert.equal(result.code, 0, result.stderr);
        const ids = JSON.parse(result.stdout.trim()) as string[];
        assert.equal(ids.length, expected, 'each process crawled everything');
        assert.ok(!result.stderr.includes(fx.apiKey), 'the API key reached a log line');
      }
      const requests = fx.stats.api.total;
      assert.ok(requests > 3 * LIMIT.limit, `only ${requests} requests: the limiter was not exercised`);
      assert.ok(fx.stats.api.max <= LIMIT.limit, `the fixture saw ${fx.stats.api.max} requests in one ${LIMIT.windowMs} ms window (limit ${LIMIT.limit})`);
      assert.equal(fx.stats.throttled, 0, 'the provider had to throttle us');
      // The limiter made requests wait: they spread over at least (requests / limit − 1) windows.
      assert.ok(elapsed >= (requests / LIMIT.limit - 1) * LIMIT.windowMs, `${requests} requests in ${elapsed} ms`);
      const counters = await readProviderCounters(ctx.connection, ctx.prefix, 'freesound');
      assert.equal(counters.requests, requests);
      assert.ok(counters.throttled > 0, 'no request ever waited for the limiter');
      assert.equal(counters.http_429, 0);
    });
  });
}
