import { definePolicy, hostsOf, type HttpPolicy } from '../../infra/http/index.ts';
import type { BundleSourceSpec } from '../../schemas/source-spec.ts';

/**
 * The HTTP politeness of a bundle served over http(s). The limiter is named after the server's
 * host, not the source: four bundles (or nine Sonniss parts) mirrored on one server share one
 * request budget, which is what the server sees. Redirects may reach only the root's host and the
 * hosts the spec adds (a mirror's CDN).
 */
export function bundlePolicy(spec: Pick<BundleSourceSpec, 'allowedHosts' | 'requestsPerSecond'>, rootUrl: string, overrides: Partial<HttpPolicy> = {}): HttpPolicy {
  const host = new URL(rootUrl).host.toLowerCase();
  return definePolicy({
    provider: `bundle-${host}`,
    allowedHosts: [...new Set([...hostsOf(rootUrl), ...spec.allowedHosts.map((h) => h.toLowerCase())])],
    rate: [rateWindow(spec.requestsPerSecond)],
    ...overrides,
  });
}

/** `n` requests per second as a whole-number window: 4 → 4 per 1 s, 0.5 → 1 per 2 s. */
export function rateWindow(requestsPerSecond: number): { limit: number; windowMs: number } {
  return requestsPerSecond >= 1
    ? { limit: Math.round(requestsPerSecond), windowMs: 1000 }
    : { limit: 1, windowMs: Math.round(1000 / requestsPerSecond) };
}
