import { z } from 'zod';

/** LAION's per-clip filters; `null` switches one off. Filtered clips are counted, not failed. */
export const filtersSchema = z.object({
  maxDurationSec: z.number().positive().nullable().default(null),
  minSampleRate: z.number().int().positive().nullable().default(null),
});
export type Filters = z.infer<typeof filtersSchema>;

/** transformers.js' ONNX variants of a graph (`<name><suffix>.onnx`; suffixes in infra/models/model-dir.ts). */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export const modelDtypeSchema = z.enum(MODEL_DTYPES);
export type ModelDtype = z.infer<typeof modelDtypeSchema>;

/** The caption stage (keyword-to-caption); workers resolve the model on their own host. */
export const captionSpecSchema = z.object({
  /** A local model folder or hub id (under CLAPSET_MODELS_DIR); null: LAION's template captioner. */
  model: z.string().min(1).nullable().default(null),
  /** Keyword lists per model call. */
  batchSize: z.number().int().min(1).max(256).default(8),
  /** Which export of the folder (`--caption-dtype`). */
  dtype: modelDtypeSchema.default('fp32'),
});
export type CaptionSpec = z.infer<typeof captionSpecSchema>;

/** The embed stage: CLAP audio and text embeddings per sample, from a model folder or hub id. */
export const embedSpecSchema = z.object({
  model: z.string().min(1),
  /** Which export of the folder (`--clap-dtype`). */
  dtype: modelDtypeSchema.default('fp32'),
});
export type EmbedSpec = z.infer<typeof embedSpecSchema>;

/** How one dataset is cut and laid out; identical settings re-plan identical shards (resume). */
export const datasetSpecSchema = z.object({
  uri: z.string().min(1),
  shardSize: z.number().int().min(1).max(100_000).default(512),
  testFraction: z.number().min(0).max(1).default(0.1),
  splitSeed: z.string().default('clapset'),
  /** Clips per transcode job: one ffmpeg process serves the whole chunk. */
  chunkSize: z.number().int().min(1).max(256).default(16),
  /** …and closed early at this many known source bytes, so long files get jobs of their own. */
  chunkBytes: z.number().int().min(1).default(16 * 1024 * 1024),
  filters: filtersSchema.default({ maxDurationSec: null, minSampleRate: null }),
  /** null: no caption stage. */
  caption: captionSpecSchema.nullable().default({ model: null, batchSize: 8, dtype: 'fp32' }),
  /** null: no embed stage. */
  embed: embedSpecSchema.nullable().default(null),
  /** HTTP(S) base the dataset root is served from (public bucket, CDN), for the card's and `clapset urls`' https form; not a planning setting. */
  publicUrl: z.string().regex(/^https?:\/\/[^\s/?#]+[^\s?#]*$/, 'an http(s):// URL without query or fragment').nullable().default(null),
});
export type DatasetSpec = z.infer<typeof datasetSpecSchema>;

export const SPLITS = ['train', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** A positional shard: `<split>/<source>-<index>.tar`. */
export const shardRefSchema = z.object({
  split: z.enum(SPLITS),
  source: z.string(),
  index: z.number().int().min(0),
  name: z.string().regex(/^[a-z0-9-]+$/),
});
export type ShardRef = z.infer<typeof shardRefSchema>;
