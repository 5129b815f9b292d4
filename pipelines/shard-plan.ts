import type { ClipRecord } from '../schemas/clip.ts';
import type { DatasetSpec, ShardRef, Split } from '../schemas/dataset.ts';
import type { PlannedClip } from '../schemas/jobs.ts';
import { sampleKey } from './sample-key.ts';
import { assignSplit } from './split.ts';

export interface PlannedShard {
  ref: ShardRef;
  clips: PlannedClip[];
}

export interface PlanTally {
  records: number;
  duplicates: number;
}

export function shardName(source: string, index: number): string {
  return `${source}-${String(index).padStart(6, '0')}`;
}

/** Object keys of a shard's files, relative to the dataset root. */
export function shardKeys(ref: ShardRef) {
  const base = `${ref.split}/${ref.name}`;
  return {
    tar: `${base}.tar`,
    stats: `${base}_stats.json`,
    staging: `_staging/${ref.split}/${ref.name}/`,
  };
}

/**
 * Cuts a source's record stream into positional shards per split: the same records in the same
 * order always give the same shards, which is what lets a resumed crawl skip finished ones.
 * Duplicate provider ids are dropped (first wins); `tally` is updated as records pass.
 */
export async function* planShards(
  records: AsyncIterable<ClipRecord>,
  dataset: Pick<DatasetSpec, 'shardSize' | 'testFraction' | 'splitSeed'>,
  source: string,
  options: { limit: number | null; tally: PlanTally },
): AsyncGenerator<PlannedShard> {
  const seen = new Set<string>();
  const open: Record<Split, PlannedClip[]> = { train: [], test: [] };
  const nextIndex: Record<Split, number> = { train: 0, test: 0 };
  const cut = (split: Split): PlannedShard => {
    const index = nextIndex[split]++;
    const clips = open[split];
    open[split] = [];
    return { ref: { split, source, index, name: shardName(source, index) }, clips };
  };

  for await (const record of records) {
    if (options.limit !== null && options.tally.records >= options.limit) break;
    if (seen.has(record.id)) {
      options.tally.duplicates++;
      continue;
    }
    seen.add(record.id);
    options.tally.records++;
    const key = sampleKey(source, record.id);
    const split = assignSplit(key, dataset.splitSeed, dataset.testFraction);
    open[split].push({ key, record });
    if (open[split].length >= dataset.shardSize) yield cut(split);
  }
  for (const split of ['train', 'test'] as const) if (open[split].length > 0) yield cut(split);
}

/**
 * Splits a shard's clips into transcode chunks (one ffmpeg process each): at most `maxClips`, and
 * closed early once the known source bytes reach `maxBytes`, so that long files get jobs of their
 * own and spread over workers while short clips share one process start-up.
 */
export function chunkClips(clips: readonly PlannedClip[], maxClips: number, maxBytes: number): PlannedClip[][] {
  const chunks: PlannedClip[][] = [];
  let current: PlannedClip[] = [];
  let bytes = 0;
  for (const clip of clips) {
    current.push(clip);
    bytes += clip.record.bytes ?? 0;
    if (current.length >= maxClips || bytes >= maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
