import type { Filters } from '../../schemas/dataset.ts';
import type { FilterReason } from '../../schemas/failure.ts';
import type { TranscodeSuccess } from './transcode-batch.ts';

export interface FilterVerdict {
  reason: FilterReason;
  message: string;
}

/**
 * LAION's per-clip exclusions, applied to a transcoded clip. Duration is the decoded output's (a
 * header can lie); sample rate is the source's, since the output is always 48 kHz and the point is
 * to drop audio that was upsampled from telephone-grade rates. An unknown source rate passes.
 */
export function filterReason(outcome: Pick<TranscodeSuccess, 'durationSec' | 'source'>, filters: Filters): FilterVerdict | null {
  if (filters.maxDurationSec !== null && outcome.durationSec > filters.maxDurationSec) {
    return {
      reason: 'longer_than_max',
      message: `duration ${formatSeconds(outcome.durationSec)} s exceeds the maximum of ${filters.maxDurationSec} s`,
    };
  }
  const rate = outcome.source.sampleRate;
  if (filters.minSampleRate !== null && rate !== null && rate < filters.minSampleRate) {
    return {
      reason: 'sample_rate_below_min',
      message: `source sample rate ${rate} Hz is below the minimum of ${filters.minSampleRate} Hz`,
    };
  }
  return null;
}

function formatSeconds(seconds: number): string {
  return String(Number(seconds.toFixed(3)));
}
