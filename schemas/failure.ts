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
  'worker_lost', // the clip's chunk stalled its worker past the stall limit: it kills whoever processes it
  'job_failed', // the clip's chunk failed for good for a cause outside the clip (storage, network, Redis, an error)
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * Whose fault a failure is. `clip`: the clip itself (corrupt audio, a provider 404, a clip that kills
 * workers) — final, counted in a finished shard. `transient`: the world around it (storage, network,
 * Redis) — never final: a shard holding one is not marked done, and `verify` sends it to `repair`.
 */
export const FAILURE_KINDS = ['clip', 'transient'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export function failureKind(reason: FailureReason | string): FailureKind {
  return reason === 'job_failed' ? 'transient' : 'clip';
}

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
