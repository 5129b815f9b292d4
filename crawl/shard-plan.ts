import type { ClipRecord } from '../schemas/clip.ts';
import type { DatasetSpec, ShardRef, Split } from '../schemas/dataset.ts';
import type { PlannedClip } from '../schemas/jobs.ts';
import { shardName } from '../infra/store/dataset-layout.ts';
import { sampleKey } from './sample-key.ts';
import { assignSplit } from './split.ts';

export interface PlannedShard {
  ref: ShardRef;
  clips: PlannedClip[];
  /** The planner's state right after this cut: resuming from it yields exactly the shards after this one. */
  checkpoint: PlanCheckpoint;
}

export interface PlanTally {
  records: number;
  duplicates: number;
}

/** A record as a source yields it, with the cursor that resumes the source right after it. */
export interface SourceItem {
  record: ClipRecord;
  cursor?: string;
}

export interface PlanCheckpoint {
  /** Source cursor after the last record consumed before the cut (null: start of the source). */
  cursor: string | null;
  nextIndex: Record<Split, number>;
  /** Records planned but not yet cut into a shard. */
  open: Record<Split, PlannedClip[]>;
  tally: PlanTally;
  /** How many provider ids had been seen: the first N of the seen set, which only grows, in insertion order. */
  seenCount: number;
}

/**
 * Cuts a source's record stream into positional shards per split: the same records in the same
 * order always give the same shards, which is what lets a resumed crawl skip finished ones.
 * Duplicate provider ids are dropped (first wins); `tally` is updated as records pass. With
 * `resume`, planning continues from a checkpoint (the source having been resumed at its cursor).
 */
export async function* planShards(
  items: AsyncIterable<SourceItem>,
  dataset: Pick<DatasetSpec, 'shardSize' | 'testFraction' | 'splitSeed'>,
  source: string,
  options: { limit: number | null; tally: PlanTally; seen?: Set<string>; resume?: PlanCheckpoint },
): AsyncGenerator<PlannedShard> {
  const seen = options.seen ?? new Set<string>();
  const { resume, tally } = options;
  const open: Record<Split, PlannedClip[]> = { train: [...(resume?.open.train ?? [])], test: [...(resume?.open.test ?? [])] };
  const nextIndex: Record<Split, number> = { ...(resume?.nextIndex ?? { train: 0, test: 0 }) };
  if (resume) Object.assign(tally, resume.tally);
  let cursor = resume?.cursor ?? null;
  const cut = (split: Split): PlannedShard => {
    const index = nextIndex[split]++;
    const clips = open[split];
    open[split] = [];
    const checkpoint: PlanCheckpoint = { cursor, nextIndex: { ...nextIndex }, open: { train: [...open.train], test: [...open.test] }, tally: { ...tally }, seenCount: seen.size };
    return { ref: { split, source, index, name: shardName(source, index) }, clips, checkpoint };
  };

  for await (const { record, cursor: after } of items) {
    if (options.limit !== null && tally.records >= options.limit) break;
    cursor = after ?? null;
    if (seen.has(record.id)) {
      tally.duplicates++;
      continue;
    }
    seen.add(record.id);
    tally.records++;
    const key = sampleKey(source, record.id);
    const split = assignSplit(key, dataset.splitSeed, dataset.testFraction);
    open[split].push({ key, record });
    if (open[split].length >= dataset.shardSize) yield cut(split);
  }
  for (const split of ['train', 'test'] as const) if (open[split].length > 0) yield cut(split);
}

/** Adapts a plain record stream (no cursors) to the planner's input. */
export async function* withoutCursors(records: AsyncIterable<ClipRecord>): AsyncGenerator<SourceItem> {
  for await (const record of records) yield { record };
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
