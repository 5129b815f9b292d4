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
  /** Keyword-to-caption (caption stage): the generated caption, or null when K2C was skipped (CLAP then uses `text`). */
  text_augment_t5: z.array(z.string().min(1)).min(1).nullable().optional(),
  /** The original captions plus the generated one. */
  text_augment_all: z.array(z.string()).min(1).optional(),
  caption_provenance: z
    .object({
      captioner: z.enum(['t5', 'template']),
      model: z.string().nullable(),
      model_revision: z.string().nullable().optional(),
      model_type: z.string().nullable().optional(),
      forged_test_model: z.boolean().optional(),
      dtype: z.string().optional(),
      device: z.enum(['cpu', 'webgpu', 'cuda']).optional(),
      template: z.string().nullable(),
      prompt: z.string().optional(),
      generation: z
        .object({
          num_beams: z.number().int().positive(),
          length_penalty: z.number(),
          no_repeat_ngram_size: z.number().int().nonnegative(),
          early_stopping: z.boolean(),
          max_length: z.number().int(),
        })
        .nullable(),
      debias: z.boolean(),
      status: z.enum(['captioned', 'skipped']),
      skipped_reason: z.enum(['too_short', 'no_keywords', 'empty_caption']).optional(),
    })
    .optional(),
});
export type SampleJson = z.infer<typeof sampleJsonSchema>;
