import type { ObjectStore } from '../infra/store/object-store.ts';
import { StoredMatrix } from '../infra/stored-matrix.ts';
import { metadataKeys } from '../infra/parquet.ts';
import type { ClapEmbedder } from '../workers/embed/clap-embedder.ts';
import { type EmbeddingKind, embeddingKeys, parseEmbeddingKey } from '../workers/embed/layout.ts';
import { BlockScorer } from './search-scorer.ts';
import { TopK } from './top-k.ts';

/**
 * Exact cosine top-k over a dataset's per-shard embedding matrices (`embeddings/<split>/<shard>.<kind>.npy`,
 * unit-norm rows, so cosine = dot product). Every matrix is read block by block (ranged reads into
 * one reused buffer per reader) and scored against the query in ONNX Runtime; only the k best
 * (shard, row) pairs are kept, so memory is one block per reader plus k, however large the dataset.
 * Keys come from the winning shards' metadata tables at the end.
 */

/** Bytes per block read: big enough that per-read and per-run overheads vanish (≈4,000 rows of 512). */
const BLOCK_BYTES = 8 * 1024 * 1024;

export interface SearchHit {
  key: string;
  /** Cosine similarity to the query. */
  score: number;
  /** `<split>/<shard>`. */
  shard: string;
  /** Row of the shard's matrices (and metadata table). */
  row: number;
}

export interface SearchOptions {
  /** How many hits. Default 10. */
  k?: number;
  /** Which matrices to search: audio (default; text→audio retrieval) or text. */
  kind?: EmbeddingKind;
  /** Only this split (train, test); default all. */
  split?: string;
  /** Leave these keys out (e.g. the `--like` key itself). */
  exclude?: readonly string[];
  /** Shards read at once: overlaps storage reads (and S3 latency) with scoring. Default 4. */
  concurrency?: number;
  /** Rows read and scored per block; default 8 MiB worth (4,096 rows of 512). */
  rowsPerBlock?: number;
}

interface Candidate {
  score: number;
  order: number;
  shard: number;
  row: number;
}

/** Top-k rows by cosine similarity to `query` (normalised here, so any non-zero vector works). */
export async function searchEmbeddings(store: ObjectStore, query: Float32Array, options: SearchOptions = {}): Promise<SearchHit[]> {
  const k = options.k ?? 10;
  const kind = options.kind ?? 'audio';
  const exclude = new Set(options.exclude ?? []);
  const q = unit(query);
  const shards = await listShards(store, kind, options.split);
  // Excluded keys may occupy top rows: keep a few spare places so k real hits remain.
  const top = new TopK<Candidate>(k + exclude.size);
  const rowsPerBlock = Math.max(1, options.rowsPerBlock ?? Math.floor(BLOCK_BYTES / (q.length * 4)));
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  const scorer = await BlockScorer.create();
  try {
    let next = 0;
    const reader = async (): Promise<void> => {
      const buffer = Buffer.allocUnsafeSlow(rowsPerBlock * q.length * 4); // own ArrayBuffer: 4-byte aligned
      try {
        while (next < shards.length) {
          const index = next++;
          await scoreShard(store, shards[index]!, index, q, { scorer, top, buffer, rowsPerBlock });
        }
      } catch (error) {
        next = shards.length; // the other readers stop after their current shard
        throw error;
      }
    };
    // Every reader settles before the scorer is released.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, shards.length) }, reader));
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    await scorer.release();
  }

  const winners = top.sorted();
  const keysByShard = new Map<number, string[]>();
  for (const shard of new Set(winners.map((w) => w.shard))) {
    const { split, shard: name } = shards[shard]!;
    keysByShard.set(shard, await metadataKeys(await store.getBuffer(embeddingKeys(split, name).metadata)));
  }
  const hits: SearchHit[] = [];
  for (const winner of winners) {
    const { split, shard: name } = shards[winner.shard]!;
    const key = keysByShard.get(winner.shard)?.[winner.row];
    if (key === undefined) throw new Error(`embeddings/${split}/${name}: row ${winner.row} has no key in the metadata table`);
    if (exclude.has(key)) continue;
    hits.push({ key, score: winner.score, shard: `${split}/${name}`, row: winner.row });
  }
  return hits.slice(0, k);
}

/** The stored embedding of one sample (the query of `clapset search --like <key>`). */
export async function embeddingOfKey(store: ObjectStore, key: string, options: { kind?: EmbeddingKind; split?: string } = {}): Promise<{ embedding: Float32Array; shard: string; row: number }> {
  const kind = options.kind ?? 'audio';
  for (const { split, shard, key: matrixKey, size } of await listShards(store, kind, options.split)) {
    const keys = await metadataKeys(await store.getBuffer(embeddingKeys(split, shard).metadata));
    const row = keys.indexOf(key);
    if (row < 0) continue;
    const matrix = await StoredMatrix.open(store, matrixKey, size);
    if (row >= matrix.rows) throw new Error(`${matrixKey} has fewer rows than its metadata table (key ${key} is row ${row})`);
    const embedding = Float32Array.from(await matrix.readRows(row, 1, Buffer.alloc(matrix.rowBytes)));
    return { embedding, shard: `${split}/${shard}`, row };
  }
  throw new Error(`no ${kind} embedding for key ${JSON.stringify(key)} in ${store.uri}`);
}

/** Nearest neighbours of a stored sample, itself excluded. */
export async function searchLike(store: ObjectStore, key: string, options: SearchOptions = {}): Promise<SearchHit[]> {
  const { embedding } = await embeddingOfKey(store, key, { ...(options.kind ? { kind: options.kind } : {}), ...(options.split ? { split: options.split } : {}) });
  return searchEmbeddings(store, embedding, { ...options, exclude: [...(options.exclude ?? []), key] });
}

interface ShardMatrix {
  key: string;
  split: string;
  shard: string;
  size: number;
}

async function listShards(store: ObjectStore, kind: EmbeddingKind, split: string | undefined): Promise<ShardMatrix[]> {
  const shards: ShardMatrix[] = [];
  for await (const object of store.list(split === undefined ? 'embeddings/' : `embeddings/${split}/`)) {
    const parsed = parseEmbeddingKey(object.key);
    if (parsed && parsed.kind === kind) shards.push({ key: object.key, split: parsed.split, shard: parsed.shard, size: object.size });
  }
  return shards;
}

interface ScanState {
  scorer: BlockScorer;
  top: TopK<Candidate>;
  /** The reader's block buffer, reused for every block it reads. */
  buffer: Buffer;
  rowsPerBlock: number;
}

async function scoreShard(store: ObjectStore, shard: ShardMatrix, index: number, q: Float32Array, { scorer, top, buffer, rowsPerBlock }: ScanState): Promise<void> {
  // The first read brings the header and the first rows: one request for a shard that fits the buffer.
  const { matrix, head } = await StoredMatrix.openInto(store, shard.key, shard.size, buffer);
  if (matrix.rows > 0 && matrix.cols !== q.length) throw new Error(`${shard.key}: rows of ${matrix.cols} values, the query has ${q.length}`);
  const scoreBlock = async (block: Float32Array, first: number, count: number): Promise<void> => {
    for (const { score, row } of await scorer.best(block, count, q, top.k)) {
      if (score < top.threshold) break; // best first: the rest of the block cannot enter either
      // order: shard-major, so equal scores rank by position in the dataset listing.
      top.push({ score, order: index * 2 ** 32 + first + row, shard: index, row: first + row });
    }
  };
  let first = 0;
  for (const headRows = head.length / q.length; first < headRows; first += rowsPerBlock) {
    const count = Math.min(rowsPerBlock, headRows - first);
    await scoreBlock(head.subarray(first * q.length, (first + count) * q.length), first, count);
  }
  for (; first < matrix.rows; first += rowsPerBlock) {
    const count = Math.min(rowsPerBlock, matrix.rows - first);
    await scoreBlock(await matrix.readRows(first, count, buffer), first, count);
  }
}

function unit(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  if (!(sum > 0)) throw new Error('the query embedding is zero (or not finite)');
  const scale = 1 / Math.sqrt(sum);
  return Float32Array.from(vector, (v) => v * scale);
}

/** Text-to-audio search: embed `text` with the dataset's CLAP text encoder, then search the audio matrices. */
export async function searchText(store: ObjectStore, embedder: Pick<ClapEmbedder, 'embedText'>, text: string, options: SearchOptions = {}): Promise<SearchHit[]> {
  const [query] = await embedder.embedText([text]);
  return searchEmbeddings(store, query!, { kind: 'audio', ...options });
}
