import { z } from 'zod';

/**
 * Why a record was left out at crawl time, before any audio was fetched: its licence matched an
 * exclusion rule, its provider id is on an exclusion list (e.g. evaluation-set ids: LAION's
 * "no overlap" variant), or the provider's metadata opts it out of ML use (`opt_out`). Such
 * records never reach a shard, so they are counted per crawl (`_crawl/<source>.json`) instead of
 * in shard stats.
 */
export const EXCLUSION_REASONS = ['license', 'id', 'opt_out'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

const count = z.number().int().min(0);
// opt_out defaults to 0: summaries written before it existed parse as they were.
export const excludedCountsSchema = z.object({ license: count, id: count, opt_out: count.default(0) });
export type ExcludedCounts = z.infer<typeof excludedCountsSchema>;

/**
 * An id list stored in the dataset itself (`_crawl/<source>.exclude-ids.<hash>.txt`, one id per
 * line), so that a crawl job running on any host reads the very list it was submitted with. The key
 * carries the content's hash: storing a list never replaces another one a dataset already uses.
 */
export const excludedIdsRefSchema = z.object({
  key: z.string().regex(/^_crawl\/[a-z0-9][a-z0-9-]*\.exclude-ids\.[0-9a-f]{12}\.txt$/),
  count: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ExcludedIdsRef = z.infer<typeof excludedIdsRefSchema>;

/** A crawl's exclusion rules (part of the crawl job). Licences compare case-insensitively. */
export const crawlExclusionsSchema = z.object({
  /** Licence ids as recorded on clips (e.g. `cc-by-nc-4.0`); exact match. */
  licenses: z.array(z.string().min(1)).default([]),
  /** Licence id prefixes (e.g. `cc-by-nc` for every NonCommercial variant). */
  licensePrefixes: z.array(z.string().min(1)).default([]),
  ids: excludedIdsRefSchema.nullable().default(null),
});
export type CrawlExclusions = z.infer<typeof crawlExclusionsSchema>;

/**
 * `_crawl/<source>.json`: what the crawl left out, by reason. `at_cut` keeps the counts as they
 * stood when each shard was cut (keyed `<train index>/<test index>` after the cut, as in the crawl
 * checkpoint), so a crawl resumed from a checkpoint restores exactly the counts before its cursor.
 */
export const crawlExclusionSummarySchema = z.object({
  source: z.string(),
  updated_at: z.string(),
  /** False while the crawl is still reading its source. */
  complete: z.boolean(),
  rules: crawlExclusionsSchema,
  excluded: excludedCountsSchema,
  at_cut: z.record(z.string(), excludedCountsSchema),
});
export type CrawlExclusionSummary = z.infer<typeof crawlExclusionSummarySchema>;
