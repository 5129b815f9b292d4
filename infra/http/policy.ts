/**
 * What a provider's politeness looks like: its request-rate windows (shared by every worker on every
 * host through Redis), the hosts requests and redirects may reach, and retry/timeout settings.
 */
import { DEFAULT_BACKOFF, type BackoffSettings } from './backoff.ts';

export interface RateWindow {
  /** At most `limit` requests in any `windowMs` interval. */
  limit: number;
  windowMs: number;
}

export interface Timeouts {
  /** TCP (and TLS) connection set-up. */
  connectMs: number;
  /** From the request sent to the response headers. */
  responseMs: number;
  /** Longest silence while reading a body (a stalled server). */
  idleMs: number;
}

export interface HttpPolicy {
  /** Names the limiter and the counters: `<prefix>:ratelimit:<provider>…`, `<prefix>:http:<provider>`. */
  provider: string;
  /**
   * `URL.host` values (`host` or `host:port`; default ports omitted, as URL.host does) that requests
   * and redirects may reach; `*.example.org` matches sub-domains. Everything else is refused.
   */
  allowedHosts: string[];
  /** Every window must have room before a request goes out (e.g. 60/min AND 2,000/day). */
  rate: RateWindow[];
  /** Attempts after the first on 429, 5xx and network errors. */
  retries: number;
  backoff: BackoffSettings;
  timeouts: Timeouts;
  maxRedirects: number;
  /**
   * Limiter waits longer than this (a spent daily quota) throw `QuotaExhaustedError` instead of
   * sleeping, so a job fails visibly and BullMQ retries it later.
   */
  maxLimiterWaitMs: number;
  /**
   * Added to every rate window: the limiter grants by Redis' clock, the provider counts by its own
   * arrival times, and latency jitter between the two must not push a window over its limit.
   */
  safetyMarginMs: number;
}

/** The settings a process may tune for every provider (tests shorten backoffs); limits stay per provider. */
export type HttpTuning = Partial<Pick<HttpPolicy, 'retries' | 'backoff' | 'timeouts' | 'maxLimiterWaitMs' | 'safetyMarginMs'>>;

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, responseMs: 30_000, idleMs: 30_000 };

/** A complete policy from the fields that matter; the rest get conservative defaults. */
export function definePolicy(policy: Pick<HttpPolicy, 'provider' | 'allowedHosts' | 'rate'> & Partial<HttpPolicy>): HttpPolicy {
  const shortest = Math.min(...policy.rate.map((w) => w.windowMs));
  return {
    retries: 6,
    backoff: DEFAULT_BACKOFF,
    timeouts: DEFAULT_TIMEOUTS,
    maxRedirects: 5,
    maxLimiterWaitMs: 10 * 60_000,
    // Requests granted in one window can reach the provider bunched up when a host stalls; 50 ms of
    // slack proved too little on a loaded 2-core machine, so short windows get up to a quarter.
    safetyMarginMs: Number.isFinite(shortest) ? Math.round(Math.max(Math.min(250, shortest * 0.25), shortest * 0.05)) : 250,
    ...policy,
  };
}

/** The `URL.host` of each base URL: the hosts a provider's configuration names. */
export function hostsOf(...urls: (string | undefined)[]): string[] {
  const hosts = new Set<string>();
  for (const url of urls) {
    if (url === undefined) continue;
    try {
      hosts.add(new URL(url).host.toLowerCase());
    } catch {
      // not a URL (e.g. a local CSV path): names no host
    }
  }
  return [...hosts];
}

/** Whether `url` may be requested under `allowedHosts` (http/https only). */
export function isAllowedUrl(url: URL, allowedHosts: readonly string[]): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.host.toLowerCase();
  return allowedHosts.some((entry) => {
    const allowed = entry.toLowerCase();
    if (allowed.startsWith('*.')) return host.endsWith(allowed.slice(1)) && host.length > allowed.length - 1;
    return host === allowed;
  });
}
