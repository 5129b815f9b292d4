import type { TranscodeSuccess } from './transcode-batch.ts';

/**
 * A file cut short (an interrupted download) still decodes, up to where it stops, and ffmpeg exits 0.
 * LAION dropped files that failed to decode, so a clip whose decoded length falls well short of what
 * its container declares is a failure, not a shorter sample. The slack absorbs encoder priming and
 * the bitrate-based estimates of VBR MP3 headers.
 */
export function truncationProblem(outcome: Pick<TranscodeSuccess, 'durationSec' | 'source'>): string | null {
  const declared = outcome.source.durationSec;
  if (declared === null || declared <= 0) return null;
  const shortfall = declared - outcome.durationSec;
  if (shortfall <= Math.max(0.5, declared * 0.1)) return null;
  return `truncated: decoded ${outcome.durationSec.toFixed(2)} s of the ${declared.toFixed(2)} s its header declares`;
}
