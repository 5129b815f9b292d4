import type { ShardRef } from '../../schemas/dataset.ts';
import { failureKind } from '../../schemas/failure.ts';
import type { ClipResult } from '../../schemas/jobs.ts';
import type { ShardStats } from '../../schemas/stats.ts';
import { addFailure, addFiltered, addSample, emptyTally } from './tally.ts';

/** BullMQ's reason for a job that stalled (its worker died or hung) more often than `maxStalledCount`. */
const STALLED_REASON = 'job stalled more than allowable limit';

/**
 * Lines up child results with the shard's planned clips: every planned clip gets exactly one
 * result. One whose chunk failed for good (no result) is `worker_lost` when every failure was a
 * chunk that kept killing its workers (the clip's own doing), else `job_failed` — transient.
 */
export function resolveClipResults(
  planned: readonly { key: string; id: string }[],
  childResults: readonly ClipResult[],
  jobFailures: readonly string[],
): ClipResult[] {
  const byKey = new Map(childResults.map((r) => [r.key, r]));
  const reasons = [...new Set(jobFailures)];
  const why = reasons.length > 0 ? `job failed: ${reasons.join('; ').slice(0, 500)}` : 'job failed';
  const reason = reasons.length > 0 && reasons.every((r) => r.includes(STALLED_REASON)) ? 'worker_lost' : 'job_failed';
  return planned.map((clip) => byKey.get(clip.key) ?? { status: 'failed', key: clip.key, id: clip.id, reason, message: why });
}

/** Results that must not be final: the shard holding them stays undone. */
export function transientFailures(results: readonly ClipResult[]): Extract<ClipResult, { status: 'failed' }>[] {
  return results.filter((r): r is Extract<ClipResult, { status: 'failed' }> => r.status === 'failed' && failureKind(r.reason) === 'transient');
}

function countBy(results: readonly ClipResult[], status: 'failed' | 'filtered'): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) if (r.status === status) counts[r.reason] = (counts[r.reason] ?? 0) + 1;
  return counts;
}

export function buildShardStats(
  ref: ShardRef,
  results: readonly ClipResult[],
  timing: { start: Date; end: Date },
  bytesWritten: number,
): ShardStats {
  const tally = emptyTally();
  for (const r of results) {
    if (r.status === 'ok') addSample(tally, r.duration, r.license);
    else if (r.status === 'failed') addFailure(tally, r.reason);
    else addFiltered(tally, r.reason);
  }
  const failures = countBy(results, 'failed');
  const filtered = countBy(results, 'filtered');
  return {
    shard: ref.name,
    split: ref.split,
    source: ref.source,
    tar: `${ref.name}.tar`,
    count: results.length,
    successes: tally.samples,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    filtered: Object.values(filtered).reduce((a, b) => a + b, 0),
    failures_by_reason: failures,
    filtered_by_reason: filtered,
    audio_seconds: tally.seconds,
    duration: (timing.end.getTime() - timing.start.getTime()) / 1000,
    start_time: timing.start.toISOString(),
    end_time: timing.end.toISOString(),
    bytes_written: bytesWritten,
    tally,
    clips: results.map((r) => ({
      key: r.key,
      id: r.id,
      status: r.status,
      ...(r.status === 'ok' ? {} : { reason: r.reason }),
      ...(r.status === 'failed' ? { kind: failureKind(r.reason) } : {}),
    })),
  };
}
