import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';

/**
 * The per-shard embedding metadata table: one row per embedding row, same order as the shard's
 * `.npy` files, so retrieval tools (clip-retrieval, autofaiss, pandas) can join row i to its sample.
 * Written with hyparquet-writer (pure JS, snappy); read back with hyparquet.
 */
export interface EmbeddingMetadataRow {
  key: string;
  /** The caption the text embedding was computed from. */
  caption: string;
  source: string;
  /** Seconds of audio. */
  duration: number;
}

export function encodeMetadataParquet(rows: readonly EmbeddingMetadataRow[]): Buffer {
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: 'key', data: rows.map((r) => r.key), type: 'STRING', nullable: false },
      { name: 'caption', data: rows.map((r) => r.caption), type: 'STRING', nullable: false },
      { name: 'source', data: rows.map((r) => r.source), type: 'STRING', nullable: false },
      { name: 'duration', data: Float64Array.from(rows, (r) => r.duration), type: 'DOUBLE', nullable: false },
    ],
    createdBy: 'clapset',
  });
  return Buffer.from(bytes);
}

export async function decodeMetadataParquet(bytes: Uint8Array): Promise<EmbeddingMetadataRow[]> {
  const rows = await parquetReadObjects({ file: arrayBufferOf(bytes) });
  return rows.map((row) => ({
    key: String(row.key ?? ''),
    caption: String(row.caption ?? ''),
    source: String(row.source ?? ''),
    duration: Number(row.duration ?? Number.NaN),
  }));
}

/** Only the `key` column (search maps its winning rows to keys, and finds `--like` keys, with it). */
export async function metadataKeys(bytes: Uint8Array): Promise<string[]> {
  const rows = await parquetReadObjects({ file: arrayBufferOf(bytes), columns: ['key'] });
  return rows.map((row) => String(row.key ?? ''));
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
