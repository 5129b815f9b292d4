import type { SourceTally } from '../schemas/stats.ts';

/**
 * Length-histogram bin edges in seconds: log-spaced, four bins per decade from 0.1 s to 1 h (the
 * span of the paper's length-distribution figure). Bin i counts lengths in [edge[i], edge[i+1]);
 * the first bin also takes anything shorter and the last anything longer.
 */
export const LENGTH_BIN_EDGES: readonly number[] = (() => {
  const edges: number[] = [];
  for (let i = 0; 0.1 * 10 ** (i / 4) < 3600; i++) edges.push(Number((0.1 * 10 ** (i / 4)).toPrecision(4)));
  edges.push(3600);
  return edges;
})();

export function lengthBin(seconds: number): number {
  const bins = LENGTH_BIN_EDGES.length - 1;
  for (let i = 1; i < bins; i++) if (seconds < LENGTH_BIN_EDGES[i]!) return i - 1;
  return bins - 1;
}

export function emptyTally(): SourceTally {
  return { samples: 0, seconds: 0, failed: {}, filtered: {}, licenses: {}, histogram: new Array(LENGTH_BIN_EDGES.length - 1).fill(0) };
}

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export function addSample(tally: SourceTally, seconds: number, license: string | null): void {
  tally.samples++;
  tally.seconds += seconds;
  tally.histogram[lengthBin(seconds)]!++;
  bump(tally.licenses, license ?? 'unknown');
}

export function addFailure(tally: SourceTally, reason: string): void {
  bump(tally.failed, reason);
}

export function addFiltered(tally: SourceTally, reason: string): void {
  bump(tally.filtered, reason);
}

/** Adds `from` into `into` (used to roll shard tallies up into dataset statistics). */
export function mergeTally(into: SourceTally, from: SourceTally): void {
  into.samples += from.samples;
  into.seconds += from.seconds;
  for (const [k, v] of Object.entries(from.failed)) bump(into.failed, k, v);
  for (const [k, v] of Object.entries(from.filtered)) bump(into.filtered, k, v);
  for (const [k, v] of Object.entries(from.licenses)) bump(into.licenses, k, v);
  from.histogram.forEach((count, i) => (into.histogram[i] = (into.histogram[i] ?? 0) + count));
}

export function sumCounts(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
