import { z } from 'zod';
import { excludedCountsSchema } from './exclusions.ts';
import { FAILURE_KINDS } from './failure.ts';

const counts = z.record(z.string(), z.number().int().min(0));

/** Per-source tallies: the unit every statistic (shard, dataset, live) is built from. */
export const sourceTallySchema = z.object({
  samples: z.number().int().min(0),
  seconds: z.number().min(0),
  failed: counts,
  filtered: counts,
  licenses: counts,
  /** Counts per length bin; bin edges are `LENGTH_BIN_EDGES` (see workers/shard/tally.ts). */
  histogram: z.array(z.number().int().min(0)),
});
export type SourceTally = z.infer<typeof sourceTallySchema>;

export const clipOutcomeSchema = z.object({
  key: z.string(),
  id: z.string(),
  status: z.enum(['ok', 'failed', 'filtered']),
  reason: z.string().optional(),
  /** Failed clips only: whether the clip itself is at fault (see `failureKind`); absent in stats of older runs. */
  kind: z.enum(FAILURE_KINDS).optional(),
});

/** `<shard>_stats.json`, written after the tar: its presence marks the shard done. */
export const shardStatsSchema = z.object({
  shard: z.string(),
  split: z.string(),
  source: z.string(),
  tar: z.string(),
  count: z.number().int().min(0),
  successes: z.number().int().min(0),
  failed: z.number().int().min(0),
  filtered: z.number().int().min(0),
  failures_by_reason: counts,
  filtered_by_reason: counts,
  audio_seconds: z.number().min(0),
  duration: z.number().min(0),
  start_time: z.string(),
  end_time: z.string(),
  bytes_written: z.number().int().min(0),
  tally: sourceTallySchema,
  clips: z.array(clipOutcomeSchema),
});
export type ShardStats = z.infer<typeof shardStatsSchema>;

/** The dataset's `stats.json`, recomputed from every shard's stats at finalisation. */
export const datasetStatsSchema = z.object({
  generated_at: z.string(),
  length_bin_edges_seconds: z.array(z.number()),
  totals: z.object({
    shards: z.number().int().min(0),
    samples: z.number().int().min(0),
    failed: z.number().int().min(0),
    filtered: z.number().int().min(0),
    hours: z.number().min(0),
    /** Records excluded at crawl time (licence or id rules, provider opt-outs); absent when none were. */
    excluded: z.number().int().min(0).optional(),
  }),
  splits: z.record(z.string(), z.object({ shards: z.number().int(), samples: z.number().int() })),
  sources: z.record(
    z.string(),
    sourceTallySchema.extend({
      hours: z.number().min(0),
      clips: z.number().int().min(0),
      excluded: excludedCountsSchema.optional(),
    }),
  ),
});
export type DatasetStats = z.infer<typeof datasetStatsSchema>;

/** `<split>/sizes.json`: tar file name → sample count, as WebDataset/CLAP loaders expect. */
export const sizesSchema = z.record(z.string(), z.number().int().min(0));
