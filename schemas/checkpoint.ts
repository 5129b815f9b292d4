import { z } from 'zod';
import { plannedClipSchema } from './jobs.ts';

const perSplit = <T extends z.ZodType>(item: T) => z.object({ train: item, test: item });

/**
 * `_crawl/<source>.checkpoint.json` in the dataset: where a resumable source's crawl may restart
 * (its cursor and the planner's state) so that a resumed crawl does not page through the provider
 * again. It only ever covers shards that are finished.
 */
export const crawlCheckpointSchema = z.object({
  source: z.string(),
  saved_at: z.string(),
  checkpoint: z.object({
    cursor: z.string().nullable(),
    nextIndex: perSplit(z.number().int().min(0)),
    open: perSplit(z.array(plannedClipSchema)),
    tally: z.object({ records: z.number().int().min(0), duplicates: z.number().int().min(0) }),
    seenCount: z.number().int().min(0),
  }),
  seen: z.array(z.string()),
});
export type CrawlCheckpoint = z.infer<typeof crawlCheckpointSchema>;
