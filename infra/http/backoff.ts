/**
 * Retry timing: exponential backoff with "full jitter" (a uniformly random delay between 0 and the
 * exponential ceiling), so that many workers throttled at the same moment do not retry in lockstep.
 * A server's Retry-After, when sent, is a floor — capped, because a hostile or broken server must
 * not be able to park a worker for hours.
 */

export interface BackoffSettings {
  /** Ceiling of the first retry's delay; doubles per attempt. */
  baseMs: number;
  /** Largest ceiling, whatever the attempt. */
  capMs: number;
  /** Largest Retry-After honoured. */
  retryAfterCapMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1_000, capMs: 60_000, retryAfterCapMs: 120_000 };

/**
 * Delay before retry number `attempt` (0 = first retry). `random` is injectable so tests can pin
 * the jitter; it must return a value in [0, 1).
 */
export function backoffDelay(attempt: number, settings: BackoffSettings, retryAfterMs: number | null = null, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** Math.max(0, attempt));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === null) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, settings.retryAfterCapMs));
}

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP date. Null when absent or
 * unparseable (the caller then backs off on its own, as Freesound's 429s require).
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return null;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** Statuses worth retrying: throttling and server-side trouble. Everything else is an answer. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599 && status !== 501);
}
