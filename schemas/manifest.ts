import { z } from 'zod';
import { datasetSpecSchema } from './dataset.ts';
import { sourceSpecSchema } from './source-spec.ts';

/** `manifest.json` at the dataset root: how the dataset was made, so anyone can tell and redo it. */
export const datasetManifestSchema = z.object({
  format: z.literal('clapset/webdataset-v1'),
  clapset_version: z.string(),
  updated_at: z.string(),
  dataset: datasetSpecSchema,
  sources: z.array(sourceSpecSchema),
  audio: z.object({ sample_rate: z.literal(48000), channels: z.literal(1), codec: z.literal('flac') }),
  members: z.array(z.string()),
  /** Set when the dataset carries CLAP embeddings (embeddings/<split>/<shard>.{audio,text}.npy + .parquet). */
  embedding: z.object({ model: z.string(), dim: z.number().int().positive() }).nullable().default(null),
});
export type DatasetManifest = z.infer<typeof datasetManifestSchema>;
