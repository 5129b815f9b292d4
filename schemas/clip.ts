import { z } from 'zod';

/**
 * One item found by a source, before any audio is touched. `audio` locates the bytes in a way the
 * same source can open again on any worker host.
 */
export const clipRecordSchema = z.object({
  source: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'source names are lower-case letters, digits and dashes'),
  id: z.string().min(1).max(2048),
  audio: z.string().min(1),
  text: z.array(z.string()),
  tags: z.array(z.string()),
  license: z.string().nullable(),
  original: z.record(z.string(), z.unknown()),
  /** Size of the source audio when the source knows it; balances transcode chunks. */
  bytes: z.number().int().min(0).optional(),
  /** Set when the source row was unusable; the clip then ends as an `invalid_record` failure. */
  invalid: z.string().optional(),
  /**
   * Set when the provider's own metadata opts the item out of ML use (e.g. Freesound
   * `gen_ai_preference: no-gen-ai`): the crawl leaves it out and counts it as `opt_out`.
   */
  optedOut: z.string().optional(),
});
export type ClipRecord = z.infer<typeof clipRecordSchema>;
