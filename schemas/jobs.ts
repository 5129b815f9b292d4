import { z } from 'zod';
import { clipRecordSchema } from './clip.ts';
import { datasetSpecSchema, filtersSchema, shardRefSchema } from './dataset.ts';
import { crawlExclusionsSchema } from './exclusions.ts';
import { FAILURE_REASONS, FILTER_REASONS } from './failure.ts';
import { sourceSpecSchema } from './source-spec.ts';

export const crawlJobSchema = z.object({
  dataset: datasetSpecSchema,
  source: sourceSpecSchema,
  /** Stop after this many records (before splitting). */
  limit: z.number().int().positive().nullable().default(null),
  /** Shards allowed in flight at once: bounds what Redis holds however large the source. */
  maxShardsInFlight: z.number().int().min(1).default(4),
  /** This source's filters, replacing the dataset's (LAION filtered Freesound only). */
  filters: filtersSchema.nullable().default(null),
  /** Records left out at crawl time by licence or id (counted in `_crawl/<source>.json`, never fetched). */
  exclude: crawlExclusionsSchema.prefault({}),
  /** Re-plan from the first record, ignoring the saved checkpoint (repair: shards before it may be undone). */
  fromStart: z.boolean().default(false),
});
export type CrawlJob = z.infer<typeof crawlJobSchema>;

export const plannedClipSchema = z.object({ key: z.string(), record: clipRecordSchema });
export type PlannedClip = z.infer<typeof plannedClipSchema>;

export const transcodeJobSchema = z.object({
  dataset: datasetSpecSchema,
  source: sourceSpecSchema,
  shard: shardRefSchema,
  clips: z.array(plannedClipSchema).min(1),
});
export type TranscodeJob = z.infer<typeof transcodeJobSchema>;

/** A stage that works on the clips its child job produced (caption, embed): it needs only where they are staged. */
export const chunkStageJobSchema = z.object({
  dataset: datasetSpecSchema,
  shard: shardRefSchema,
});
export type ChunkStageJob = z.infer<typeof chunkStageJobSchema>;

export const clipResultSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('ok'),
    key: z.string(),
    id: z.string(),
    duration: z.number(),
    flacBytes: z.number().int().positive(),
    jsonBytes: z.number().int().positive(),
    license: z.string().nullable(),
  }),
  z.object({ status: z.literal('failed'), key: z.string(), id: z.string(), reason: z.enum(FAILURE_REASONS), message: z.string() }),
  z.object({ status: z.literal('filtered'), key: z.string(), id: z.string(), reason: z.enum(FILTER_REASONS), message: z.string() }),
]);
export type ClipResult = z.infer<typeof clipResultSchema>;

export const shardJobSchema = z.object({
  dataset: datasetSpecSchema,
  shard: shardRefSchema,
  /** Every clip planned for the shard, in tar order; one without a result counts as `job_failed` or `worker_lost`. */
  clips: z.array(z.object({ key: z.string(), id: z.string() })),
});
export type ShardJob = z.infer<typeof shardJobSchema>;
