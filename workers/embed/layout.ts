/**
 * Where a shard's embeddings live in a dataset: beside the split's tars, under `embeddings/`, one
 * `.npy` per modality and one metadata table, all in the shard's row order (row i = sample i).
 *
 *   embeddings/<split>/<shard>.audio.npy    float32 (samples, 512), unit-norm
 *   embeddings/<split>/<shard>.text.npy     float32 (samples, 512), unit-norm
 *   embeddings/<split>/<shard>.parquet      key, caption, source, duration
 */
export type EmbeddingKind = 'audio' | 'text';

/** CLAP's joint audio–text space (projection_dim of every published checkpoint). */
export const CLAP_EMBEDDING_DIM = 512;

export function embeddingKeys(split: string, shard: string): { audio: string; text: string; metadata: string } {
  const base = `embeddings/${split}/${shard}`;
  return { audio: `${base}.audio.npy`, text: `${base}.text.npy`, metadata: `${base}.parquet` };
}

/** `<split>/<shard>` and the modality of an embedding matrix key, or null for any other key. */
export function parseEmbeddingKey(key: string): { split: string; shard: string; kind: EmbeddingKind } | null {
  const match = /^embeddings\/([^/]+)\/([^/]+)\.(audio|text)\.npy$/.exec(key);
  if (!match) return null;
  return { split: match[1]!, shard: match[2]!, kind: match[3] as EmbeddingKind };
}
