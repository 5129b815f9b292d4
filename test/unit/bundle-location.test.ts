import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUNDLE_PROVIDERS, sourceSpecSchema } from '../../schemas/source-spec.ts';
import { bundleLocation } from '../../sources/bundle/location.ts';
import { decodedCollectionPath, formatUrlLocator, listingFileUrl, parseUrlLocator } from '../../sources/bundle/locator.ts';
import { bundlePolicy, rateWindow } from '../../sources/bundle/policy.ts';
import { BUNDLE_PROVIDER_INFO } from '../../sources/bundle/providers.ts';

const loc = (root: string, format: 'auto' | 'zip' | 'listing' = 'auto') => bundleLocation({ root, format });

describe('bundle specs and locations', () => {
  it('the four providers parse with their name as default, a licence label each, and politeness defaults', () => {
    for (const type of BUNDLE_PROVIDERS) {
      const spec = sourceSpecSchema.parse({ type, root: '/data/bundle.zip' });
      assert.deepEqual(spec, { type, name: type, root: '/data/bundle.zip', format: 'auto', allowedHosts: [], requestsPerSecond: 4, rule: 'clapset' });
      assert.ok(BUNDLE_PROVIDER_INFO[type].defaultLicense.length > 0);
    }
    assert.equal(BUNDLE_PROVIDER_INFO.sonniss.defaultLicense, 'Sonniss GDC bundle licence (check ML terms)');
    assert.throws(() => sourceSpecSchema.parse({ type: 'odeon', root: '' }));
    assert.throws(() => sourceSpecSchema.parse({ type: 'odeon', root: 'x', name: 'Odeon Bundle' }), /lower-case/);
  });

  it('tells local roots, zip URLs and listings apart', () => {
    assert.deepEqual(loc('/mnt/bundles/Sonniss.com-GDC2024-GameAudioBundle1of9.zip'), { kind: 'local', path: '/mnt/bundles/Sonniss.com-GDC2024-GameAudioBundle1of9.zip' });
    assert.deepEqual(loc('relative/folder'), { kind: 'local', path: 'relative/folder' });
    assert.deepEqual(loc('https://cdn.example.org/GDC2024/Bundle%201of9.ZIP#x'), { kind: 'zip-url', url: 'https://cdn.example.org/GDC2024/Bundle%201of9.ZIP' });
    assert.deepEqual(loc('https://cdn.example.org/download?id=7', 'zip'), { kind: 'zip-url', url: 'https://cdn.example.org/download?id=7' });
    assert.deepEqual(loc('http://mirror.lan/bundles/Odeon'), { kind: 'listing', url: 'http://mirror.lan/bundles/Odeon/' });
    assert.deepEqual(loc('http://mirror.lan/bundles/old.zip', 'listing'), { kind: 'listing', url: 'http://mirror.lan/bundles/old.zip/' });
    assert.throws(() => loc('http://[bad'), /does not parse/);
  });

  it('listing locators keep the server spelling; URLs never leave the root', () => {
    const root = 'http://mirror.lan/b/';
    assert.equal(parseUrlLocator(formatUrlLocator('Foley/Door%20Slam.wav')), 'Foley/Door%20Slam.wav');
    assert.equal(parseUrlLocator('zip:x.wav'), null);
    assert.equal(parseUrlLocator('url:'), null);
    assert.equal(listingFileUrl(root, 'Foley/Door%20Slam.wav'), 'http://mirror.lan/b/Foley/Door%20Slam.wav');
    assert.equal(listingFileUrl(root, 'Take%3A2.wav'), 'http://mirror.lan/b/Take%3A2.wav');
    assert.equal(listingFileUrl(root, 'Take:2.wav'), 'http://mirror.lan/b/Take:2.wav', 'a colon is not a scheme');
    for (const hostile of ['..%2Fevil.wav', '%2e%2e/x.wav', '../x.wav', 'a/../../x.wav', '/etc/x.wav', '//evil.example/x.wav', 'x.wav?y', 'x.wav#y', '%2E%2E%2F%2E%2E%2Fx.wav']) {
      assert.equal(listingFileUrl(root, hostile), null, hostile);
    }
    assert.equal(decodedCollectionPath('Foley/Caf%C3%A9.wav'), 'Foley/Café.wav');
  });

  it('one limiter per server host, whichever bundle; redirects only to the root host and the hosts named', () => {
    const policy = bundlePolicy({ allowedHosts: ['CDN.example.org', '*.mirror.example'], requestsPerSecond: 2 }, 'https://files.example.org:8443/b/x.zip', { retries: 1 });
    assert.equal(policy.provider, 'bundle-files.example.org:8443');
    assert.deepEqual(policy.allowedHosts, ['files.example.org:8443', 'cdn.example.org', '*.mirror.example']);
    assert.deepEqual(policy.rate, [{ limit: 2, windowMs: 1000 }]);
    assert.equal(policy.retries, 1);
    assert.deepEqual(rateWindow(0.25), { limit: 1, windowMs: 4000 });
    assert.deepEqual(rateWindow(12.4), { limit: 12, windowMs: 1000 });
  });
});
