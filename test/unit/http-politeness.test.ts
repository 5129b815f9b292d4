/** Pure parts of the polite HTTP layer: backoff, Retry-After, robots directives, host allow-lists, scrubbing, User-Agent. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from '../../infra/http/backoff.ts';
import { definePolicy, hostsOf, isAllowedUrl } from '../../infra/http/policy.ts';
import { parseRobotsTag } from '../../infra/http/robots.ts';
import { registerHeaderSecrets, registerSecret, safeUrl, scrub } from '../../infra/http/scrub.ts';
import { userAgent } from '../../infra/http/user-agent.ts';

const settings = { baseMs: 100, capMs: 1000, retryAfterCapMs: 5000 };

describe('backoff', () => {
  it('is full jitter: uniformly below an exponential ceiling, capped', () => {
    assert.equal(backoffDelay(0, settings, null, () => 0), 0);
    assert.equal(backoffDelay(0, settings, null, () => 0.999), 99);
    assert.equal(backoffDelay(3, settings, null, () => 0.5), 400); // ceiling 800
    assert.equal(backoffDelay(10, settings, null, () => 0.999), 999); // capped at 1000
    const delays = Array.from({ length: 200 }, () => backoffDelay(2, settings));
    assert.ok(delays.every((d) => d >= 0 && d < 400));
    assert.ok(new Set(delays).size > 50, 'jitter must spread retries');
  });

  it('treats Retry-After as a floor, capped', () => {
    assert.equal(backoffDelay(0, settings, 2000, () => 0.5), 2000);
    assert.equal(backoffDelay(0, settings, 60_000, () => 0.5), 5000);
    assert.equal(backoffDelay(5, settings, 10, () => 0.5), 500);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 1.5 ', now), 1500);
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(undefined, now), null);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter(['7', '9'], now), 7000);
  });

  it('retries throttling and server trouble only', () => {
    for (const s of [429, 408, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of [200, 301, 400, 401, 403, 404, 410, 501]) assert.equal(isRetryableStatus(s), false, String(s));
  });
});

describe('X-Robots-Tag', () => {
  it('excludes on noai and noml, not on noimageai (images only) or other directives', () => {
    assert.deepEqual(parseRobotsTag('noai'), { directives: ['noai'], excluded: true });
    assert.equal(parseRobotsTag('NoML').excluded, true);
    assert.equal(parseRobotsTag('noindex, nofollow, noimageai').excluded, false);
    assert.equal(parseRobotsTag(['noindex', 'noai']).excluded, true);
    assert.equal(parseRobotsTag(undefined).excluded, false);
  });

  it('applies directives scoped to us or to everyone, not to other bots', () => {
    assert.equal(parseRobotsTag('googlebot: noai').excluded, false);
    assert.equal(parseRobotsTag('clapset: noml').excluded, true);
    assert.equal(parseRobotsTag('*: noai').excluded, true);
    assert.equal(parseRobotsTag('unavailable_after: 25 Jun 2010 15:00:00 PST, noai').excluded, true);
    assert.deepEqual(parseRobotsTag('otherbot: noindex, noai').directives, []);
  });
});

describe('hosts', () => {
  it('allows only listed hosts (with port), wildcard sub-domains, and http(s)', () => {
    const allowed = ['freesound.org', 'cdn.freesound.org', '127.0.0.1:8080', '*.bbcrewind.co.uk'];
    assert.equal(isAllowedUrl(new URL('https://freesound.org/apiv2/'), allowed), true);
    assert.equal(isAllowedUrl(new URL('https://FREESOUND.org:443/x'), allowed), true);
    assert.equal(isAllowedUrl(new URL('https://freesound.org:8443/x'), allowed), false);
    assert.equal(isAllowedUrl(new URL('http://127.0.0.1:8080/x'), allowed), true);
    assert.equal(isAllowedUrl(new URL('http://127.0.0.1:9000/admin'), allowed), false);
    assert.equal(isAllowedUrl(new URL('https://sound-effects-media.bbcrewind.co.uk/wav/1.wav'), allowed), true);
    assert.equal(isAllowedUrl(new URL('https://bbcrewind.co.uk.evil.example/'), allowed), false);
    assert.equal(isAllowedUrl(new URL('https://evilbbcrewind.co.uk/'), allowed), false);
    assert.equal(isAllowedUrl(new URL('file:///etc/passwd'), ['']), false);
    assert.equal(isAllowedUrl(new URL('ftp://freesound.org/'), allowed), false);
  });

  it('derives hosts from base URLs, ignoring paths that are not URLs', () => {
    assert.deepEqual(hostsOf('https://freesound.org/apiv2/', 'http://127.0.0.1:4000/a', '/data/BBCSoundEffects.csv', undefined), ['freesound.org', '127.0.0.1:4000']);
  });

  it('adds a safety margin of 5% of the shortest window, at least 250 ms or a quarter of a shorter window', () => {
    assert.equal(definePolicy({ provider: 'p', allowedHosts: [], rate: [{ limit: 60, windowMs: 60_000 }, { limit: 2000, windowMs: 86_400_000 }] }).safetyMarginMs, 3000);
    assert.equal(definePolicy({ provider: 'p', allowedHosts: [], rate: [{ limit: 5, windowMs: 200 }] }).safetyMarginMs, 50);
    assert.equal(definePolicy({ provider: 'p', allowedHosts: [], rate: [{ limit: 30, windowMs: 1000 }] }).safetyMarginMs, 250);
  });
});

describe('scrubbing', () => {
  it('removes credential query parameters, userinfo and registered secrets', () => {
    assert.equal(safeUrl('https://freesound.org/apiv2/search/?query=x&token=abc123&page=2'), 'https://freesound.org/apiv2/search/?query=x&token=***&page=2');
    assert.equal(scrub('GET https://a.example/x?access_token=zzz&client_secret=yyy'), 'GET https://a.example/x?access_token=***&client_secret=***');
    assert.equal(scrub('https://user:pw@host.example/'), 'https://***@host.example/');
    registerSecret('runtime-token-1234abcd');
    assert.equal(scrub('{"msg":"Bearer runtime-token-1234abcd refused"}'), '{"msg":"Bearer *** refused"}');
    registerHeaderSecrets({ Authorization: 'Token header-key-5678efgh', accept: 'application/json' });
    assert.equal(scrub('key header-key-5678efgh and Token header-key-5678efgh'), 'key *** and ***');
    assert.equal(scrub('application/json'), 'application/json');
  });

  it('scrubs secret environment variables through infra/log redact', () => {
    process.env.SOME_PROVIDER_API_KEY = 'env-secret-value-42';
    try {
      assert.equal(scrub('failed with env-secret-value-42'), 'failed with ***');
    } finally {
      delete process.env.SOME_PROVIDER_API_KEY;
    }
  });
});

describe('User-Agent', () => {
  it('names clapset, its version and the contact', () => {
    assert.match(userAgent('https://example.org/crawler'), /^clapset\/\d+\.\d+\.\d+ \(\+https:\/\/example\.org\/crawler\)$/);
    assert.match(userAgent(''), /^clapset\/\d+\.\d+\.\d+$/);
    assert.doesNotMatch(userAgent('evil\r\nX-Injected: 1'), /[\r\n]/);
  });
});
