import type { DatasetStats, ShardStats, SourceTally } from '../../schemas/stats.ts';

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

/** What a roll-up needs of a shard's stats (live statistics keep only this much). */
export type ShardSummary = Pick<ShardStats, 'shard' | 'split' | 'source' | 'count' | 'successes' | 'tally'>;

/** Pure roll-up of shard stats into the dataset's `stats.json`. */
export function aggregateStats(shards: readonly ShardSummary[], now = new Date()): DatasetStats {
  const sources: DatasetStats['sources'] = {};
  const splits: DatasetStats['splits'] = {};
  for (const shard of shards) {
    const source = (sources[shard.source] ??= { ...emptyTally(), hours: 0, clips: 0 });
    mergeTally(source, shard.tally);
    source.clips += shard.count;
    const split = (splits[shard.split] ??= { shards: 0, samples: 0 });
    split.shards++;
    split.samples += shard.successes;
  }
  for (const source of Object.values(sources)) source.hours = source.seconds / 3600;
  const all = Object.values(sources);
  return {
    generated_at: now.toISOString(),
    length_bin_edges_seconds: [...LENGTH_BIN_EDGES],
    totals: {
      shards: shards.length,
      samples: all.reduce((n, s) => n + s.samples, 0),
      failed: all.reduce((n, s) => n + sumCounts(s.failed), 0),
      filtered: all.reduce((n, s) => n + sumCounts(s.filtered), 0),
      hours: all.reduce((n, s) => n + s.hours, 0),
    },
    splits,
    sources,
  };
}
