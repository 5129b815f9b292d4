import { z } from 'zod';
import { plannedClipSchema } from './jobs.ts';

const perSplit = <T extends z.ZodType>(item: T) => z.object({ train: item, test: item });

/**
 * `_crawl/<source>.checkpoint.json` in the dataset: where a resumable source's crawl may restart
 * (its cursor and the planner's state) so that a resumed crawl does not page through the provider
 * again. It only ever covers shards that are finished.
 *
 * The provider ids seen so far (the planner drops repeats) are not in it: they are the first
 * `checkpoint.seenCount` ids of the segment objects `_crawl/<source>.seen/000000.json`, … (see
 * `seenSegmentSchema`), `seen_segments.ids_per_segment` ids each, so that a save writes the open
 * tail segment and any newly filled ones rather than every id again. Checkpoints written before
 * that kept every id inline in `seen`; they still load (and the next save moves them to segments).
 */
export const crawlCheckpointSchema = z
  .object({
    source: z.string(),
    saved_at: z.string(),
    checkpoint: z.object({
      cursor: z.string().nullable(),
      nextIndex: perSplit(z.number().int().min(0)),
      open: perSplit(z.array(plannedClipSchema)),
      tally: z.object({ records: z.number().int().min(0), duplicates: z.number().int().min(0) }),
      seenCount: z.number().int().min(0),
    }),
    seen_segments: z.object({ ids_per_segment: z.number().int().min(1) }).optional(),
    /** The earlier format: every id seen, inline. */
    seen: z.array(z.string()).optional(),
  })
  .refine((c) => (c.seen_segments === undefined) !== (c.seen === undefined), 'a checkpoint has either seen_segments or seen');
export type CrawlCheckpoint = z.infer<typeof crawlCheckpointSchema>;

/**
 * `_crawl/<source>.seen/<index>.json`: ids `first` … `first + ids.length - 1` of the seen set, in
 * the order first seen. Only ever appended to: a segment is rewritten while it is the open tail,
 * and each rewrite starts with what the previous one held.
 */
export const seenSegmentSchema = z.object({
  first: z.number().int().min(0),
  ids: z.array(z.string()),
});
export type SeenSegment = z.infer<typeof seenSegmentSchema>;
