import { z } from 'zod';

const sourceName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'source names are lower-case letters, digits and dashes');

/** A local folder or zip archive of audio files, with an optional CSV/JSONL manifest. */
export const localSourceSpecSchema = z.object({
  type: z.literal('local'),
  name: sourceName.default('local'),
  /** A folder (walked recursively) or a `.zip` archive. */
  root: z.string().min(1),
  /** Optional CSV or JSONL manifest; relative `file` entries resolve against `root`. */
  manifest: z.string().min(1).optional(),
  /** Licence recorded for every clip unless its manifest row names one. */
  license: z.string().min(1).optional(),
});

/** Everything a worker on any host needs to reopen a source: plain data, never credentials. */
export const sourceSpecSchema = z.discriminatedUnion('type', [localSourceSpecSchema]);
export type SourceSpec = z.infer<typeof sourceSpecSchema>;
export type LocalSourceSpec = z.infer<typeof localSourceSpecSchema>;
