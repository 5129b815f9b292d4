import { z } from 'zod';

/** The `<key>.json` member of a sample. LAION/CLAP loaders read `text`, `tag` and `original_data`. */
export const sampleJsonSchema = z.object({
  key: z.string().regex(/^[^.]+$/, 'keys contain no dot'),
  text: z.array(z.string()).min(1),
  tag: z.array(z.string()),
  original_data: z.record(z.string(), z.unknown()),
  source: z.string(),
  provider_id: z.string(),
  license: z.string().nullable(),
  duration: z.number().positive(),
  sample_rate: z.literal(48000),
  channels: z.literal(1),
  original_sample_rate: z.number().int().positive().nullable(),
  original_channels: z.number().int().positive().nullable(),
  original_codec: z.string().nullable(),
  original_format: z.string().nullable(),
});
export type SampleJson = z.infer<typeof sampleJsonSchema>;
