/**
 * What the HTTP layer throws. Per-clip, permanent problems are `ClipError`s (the clip is counted
 * as failed and the run goes on); transient trouble is a plain `Error` subclass so the job retries.
 * Every message is scrubbed of credentials, and no error keeps the HTTP library's error as its
 * `cause` (that object holds the request options, Authorization header included).
 */
import { ClipError, type FilterReason } from '../../schemas/failure.ts';
import { scrub } from './scrub.ts';

/** A final non-2xx answer where a success was needed (404 on an audio URL, 401, …): permanent. */
export class HttpStatusError extends ClipError {
  constructor(
    readonly status: number,
    readonly url: string,
    detail = '',
  ) {
    super('fetch_error', scrub(`HTTP ${status} from ${url}${detail ? `: ${detail}` : ''}`));
    this.name = 'HttpStatusError';
  }
}

/** A redirect (or a request) to a host outside the provider's allowed hosts: refused, permanent. */
export class HostNotAllowedError extends ClipError {
  constructor(
    readonly provider: string,
    readonly url: string,
    readonly redirectFrom: string | null,
  ) {
    super(
      'fetch_error',
      scrub(
        redirectFrom === null
          ? `refused request to ${url}: host not allowed for provider ${provider}`
          : `refused redirect from ${redirectFrom} to ${url}: host not allowed for provider ${provider}`,
      ),
    );
    this.name = 'HostNotAllowedError';
  }
}

/**
 * The response opted out of ML use (X-Robots-Tag noai/noml): not a failure but the provider's
 * `opted_out` exclusion, which the transcode stage records as filtered. Permanent, never retried.
 */
export class OptedOutError extends Error {
  readonly reason = 'opted_out' satisfies FilterReason;
  constructor(
    readonly url: string,
    readonly directives: string[],
  ) {
    super(scrub(`excluded: ${url} answered X-Robots-Tag ${directives.join(', ')}`));
    this.name = 'OptedOutError';
  }
}

/** A body over the size cap (announced or streamed). */
export class TooLargeError extends ClipError {
  constructor(url: string, maxBytes: number, seen: number, announced: boolean) {
    super(
      'too_large',
      scrub(announced ? `${url} announces ${seen} bytes, over the ${maxBytes}-byte limit` : `${url} sent more than the ${maxBytes}-byte limit; download cut off`),
    );
    this.name = 'TooLargeError';
  }
}


/** 429/5xx/network errors went on past the last retry: transient, so the job is retried later. */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly provider: string,
    readonly url: string,
    readonly attempts: number,
    readonly lastProblem: string,
  ) {
    super(scrub(`${provider}: gave up on ${url} after ${attempts} attempts; last problem: ${lastProblem}`));
    this.name = 'RetriesExhaustedError';
  }
}

/** A long window (daily quota) is spent: transient, with the time it frees up. */
export class QuotaExhaustedError extends Error {
  constructor(
    readonly provider: string,
    readonly waitMs: number,
    windowText: string,
  ) {
    super(`${provider}: request quota ${windowText} is spent; the next request is allowed in ${Math.ceil(waitMs / 1000)} s`);
    this.name = 'QuotaExhaustedError';
  }
}
