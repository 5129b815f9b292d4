/**
 * The Redis limiter itself: sliding-window grants, the wait it reports, several windows at once (a
 * per-second rate and a "daily" quota), and the client turning a spent quota into a transient
 * QuotaExhaustedError instead of sleeping for hours.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpClient } from '../../infra/http/client.ts';
import { QuotaExhaustedError } from '../../infra/http/errors.ts';
import { definePolicy } from '../../infra/http/policy.ts';
import { RateLimiter } from '../../infra/http/rate-limiter.ts';
import { startHttpServer, type RunningServer } from '../../demo/providers/common.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
let server: RunningServer;

before(async () => {
  server = await startHttpServer((_req, res) => {
    res.writeHead(200).end('ok');
  });
});
after(async () => {
  await server.close();
  await ctx.close();
});

/** A limiter that remembers recent traffic (as a running deployment's does), so it starts with empty windows. */
const warm = (limiter: RateLimiter) => ctx.connection.set(limiter.keys.at(-1)!, '0', 'PX', 600_000);

describe('RateLimiter', () => {
  it('without memory of recent requests (first start, or Redis keys lost mid-crawl) it waits one short window first', async () => {
    const limiter = new RateLimiter(ctx.connection, ctx.prefix, 'unit-cold', [{ limit: 5, windowMs: 300 }, { limit: 1000, windowMs: 86_400_000 }]);
    const first = await limiter.tryAcquire();
    assert.equal(first.granted, false, 'the short window starts full: the provider may still count requests we forgot');
    assert.ok(first.waitMs > 250 && first.waitMs <= 300, `wait ${first.waitMs}`);
    await new Promise((r) => setTimeout(r, first.waitMs + 5));
    for (let i = 0; i < 5; i++) assert.equal((await limiter.tryAcquire()).granted, true, 'then the full rate; the daily window started empty');
    await ctx.connection.del(...limiter.keys); // a Redis wipe
    assert.equal((await limiter.tryAcquire()).granted, false);
  });

  it('grants `limit` slots per sliding window, then reports how long to wait', async () => {
    const limiter = new RateLimiter(ctx.connection, ctx.prefix, 'unit-a', [{ limit: 5, windowMs: 400 }]);
    assert.deepEqual(limiter.keys, [`${ctx.prefix}:ratelimit:unit-a`, `${ctx.prefix}:ratelimit:unit-a:memory`]);
    await warm(limiter);
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal((await limiter.tryAcquire()).granted, true);
    const refused = await limiter.tryAcquire();
    assert.equal(refused.granted, false);
    assert.ok(refused.waitMs > 0 && refused.waitMs <= 400, `wait ${refused.waitMs}`);
    assert.deepEqual(refused.window, { limit: 5, windowMs: 400 });
    await new Promise((r) => setTimeout(r, refused.waitMs + 5));
    assert.equal((await limiter.tryAcquire()).granted, true);
    assert.ok(Date.now() - started >= 395);
    assert.ok((await ctx.connection.pttl(limiter.keys[0]!)) > 0, 'the log expires on its own');
  });

  it('is shared: two limiters with the same name and prefix see one window', async () => {
    const a = new RateLimiter(ctx.connection, ctx.prefix, 'unit-b', [{ limit: 3, windowMs: 10_000 }]);
    const b = new RateLimiter(ctx.connection, ctx.prefix, 'unit-b', [{ limit: 3, windowMs: 10_000 }]);
    await warm(a);
    const grants = await Promise.all([a, b, a, b, a, b].map((l) => l.tryAcquire()));
    assert.equal(grants.filter((g) => g.granted).length, 3);
  });

  it('needs room in every window; a full long window blocks with its own wait', async () => {
    const limiter = new RateLimiter(ctx.connection, ctx.prefix, 'unit-c', [{ limit: 100, windowMs: 1000 }, { limit: 2, windowMs: 86_400_000 }]);
    await warm(limiter);
    assert.equal((await limiter.tryAcquire()).granted, true);
    assert.equal((await limiter.tryAcquire()).granted, true);
    const refused = await limiter.tryAcquire();
    assert.equal(refused.granted, false);
    assert.ok(refused.waitMs > 86_000_000);
    assert.equal(refused.window?.limit, 2);
  });

  it('the client turns a spent daily quota into a transient QuotaExhaustedError, counted', async () => {
    const client = createHttpClient({
      redis: ctx.connection,
      prefix: ctx.prefix,
      policy: definePolicy({ provider: 'quota-test', allowedHosts: [server.host], rate: [{ limit: 50, windowMs: 1000 }, { limit: 3, windowMs: 86_400_000 }] }),
    });
    for (let i = 0; i < 3; i++) assert.equal((await client.request(`${server.origin}/`)).status, 200);
    await assert.rejects(client.request(`${server.origin}/`), (error: unknown) => {
      assert.ok(error instanceof QuotaExhaustedError);
      assert.match(error.message, /quota-test: request quota \(3 per 86400 s\) is spent; the next request is allowed in \d+ s/);
      return true;
    });
    const counters = await client.counters();
    assert.equal(counters.requests, 3);
    assert.equal(counters.quota_exhausted, 1);
  });
});
