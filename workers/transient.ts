import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { errorMessage, log } from '../infra/log.ts';

/** Codes of network and file-system trouble that passes: unreachable, refused, full, read-only, permission. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ETIMEDOUT', 'EPIPE',
  'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EBUSY', 'EMFILE', 'ENFILE', 'EAGAIN', 'ESTALE',
]);
/** S3 and HTTP-layer error names that mean "later", whatever their status code. */
const TRANSIENT_NAMES = new Set([
  'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeTooSkewed', 'ThrottlingException', 'TimeoutError',
  'RetriesExhaustedError', 'QuotaExhaustedError', 'MaxRetriesPerRequestError',
]);

/**
 * Storage, network or Redis trouble: an error (or any error in its `cause` chain) with a transient
 * code, name, an HTTP 5xx/429 status, or a closed Redis connection. Per-clip problems are
 * `ClipError`s and never reach here; anything else is a bug and keeps BullMQ's ordinary attempts.
 */
export function isTransientError(error: unknown): boolean {
  // Thrown on purpose to end the job for good, whatever its message quotes (e.g. a child's "Connection is closed").
  if (error instanceof UnrecoverableError) return false;
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (TRANSIENT_NAMES.has(current.name)) return true;
    const status = (current as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    if (/Connection is closed|Stream isn't writeable/.test(current.message)) return true;
  }
  return false;
}

/** Kept in the job's data: when its transient trouble began and how often it has waited since. */
const SINCE = '_transientSince';
const WAITS = '_transientWaits';

/** Backoff between transient retries: 2 s doubling, at most a minute. */
export function transientDelayMs(waits: number): number {
  return Math.min(60_000, 2000 * 2 ** Math.min(waits, 10));
}

type Processor = (job: Job, token?: string) => Promise<unknown>;

/**
 * Wraps a stage's processor so storage/network/Redis errors park the job (moved to delayed with
 * backoff, no attempt spent) until `windowMs` has passed since the trouble began; then the job fails
 * for good, saying so. While storage is down the work waits instead of burning attempts; BullMQ's
 * attempts stay for real errors. A provider's spent quota waits as long as the provider says.
 */
export function retryingTransient(stage: string, processor: Processor, windowMs: number): Processor {
  return async (job, token) => {
    try {
      return await processor(job, token);
    } catch (error) {
      if (!isTransientError(error) || token === undefined) throw error;
      const data = (job.data ?? {}) as Record<string, unknown>;
      const now = Date.now();
      const since = typeof data[SINCE] === 'number' ? data[SINCE] : now;
      const waits = typeof data[WAITS] === 'number' ? data[WAITS] : 0;
      const waitMs = (error as { waitMs?: unknown }).waitMs;
      const quota = error instanceof Error && error.name === 'QuotaExhaustedError' && typeof waitMs === 'number';
      if (!quota && now - since >= windowMs) {
        throw new UnrecoverableError(
          `transient trouble for ${Math.round((now - since) / 1000)} s, past the ${Math.round(windowMs / 1000)}-s retry window: ${errorMessage(error)}`,
        );
      }
      const delay = quota ? waitMs : Math.min(transientDelayMs(waits), Math.max(1000, since + windowMs - now));
      await job.updateData({ ...data, [SINCE]: quota ? data[SINCE] : since, [WAITS]: waits + 1 });
      await job.moveToDelayed(now + delay, token);
      log.warn('transient trouble; job waits and retries', { stage, job: job.id, retry_in_s: Math.round(delay / 1000), error: errorMessage(error) });
      throw new DelayedError();
    }
  };
}
