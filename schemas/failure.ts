/**
 * Why a clip did not become a sample. Failures are counted per reason in every shard's stats;
 * "filtered" reasons are deliberate exclusions, not errors.
 */
export const FAILURE_REASONS = [
  'invalid_record', // the source row itself was malformed
  'missing_file',
  'path_outside_collection',
  'empty_file',
  'too_large',
  'fetch_error',
  'decode_error',
  'truncated', // decodes, but far shorter than its container declares (a cut-off download)
  'empty_audio',
  'invalid_output',
  'job_failed', // the clip's job failed for good (its worker kept dying, or storage kept failing)
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const FILTER_REASONS = [
  'longer_than_max',
  'sample_rate_below_min',
  'opted_out', // the provider said no to ML use for this file (X-Robots-Tag noai/noml): honoured, not an error
] as const;
export type FilterReason = (typeof FILTER_REASONS)[number];

/** A permanent, per-clip failure: retrying cannot help, so the clip is counted and the run goes on. */
export class ClipError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'ClipError';
  }
}
