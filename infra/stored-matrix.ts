import { parseNpyHeader, type NpyHeader } from './npy.ts';
import type { ObjectStore } from './store/object-store.ts';

/** First read for a header: numpy pads v1 headers to a 64-byte boundary, so they are ~128 bytes. */
const HEADER_PROBE_BYTES = 4096;
const MAX_HEADER_BYTES = 1 << 20;

/**
 * A 2-D float32 `.npy` matrix in an object store, read by rows with ranged reads into the caller's
 * buffer: a scan over gigabytes of embeddings reuses one block buffer per reader and never holds a
 * whole matrix. Opening checks the object's size against its header, so a truncated or over-long
 * file is refused before any row is scored.
 */
export class StoredMatrix {
  private constructor(
    private readonly store: ObjectStore,
    readonly key: string,
    readonly rows: number,
    readonly cols: number,
    private readonly dataOffset: number,
  ) {}

  /** Reads and checks the header; `size` (bytes, e.g. from a listing) saves a HEAD request. */
  static async open(store: ObjectStore, key: string, size?: number): Promise<StoredMatrix> {
    return StoredMatrix.checked(store, key, await readHeader(store, key), size);
  }

  /**
   * Opens with one read of `buffer` (4-byte aligned) from the start of the object: the header and
   * the whole rows after it, so a matrix that fits costs one request (one GET on S3, where a header
   * read first would double the round trips of a scan). `head` views those rows in `buffer`.
   */
  static async openInto(store: ObjectStore, key: string, size: number, buffer: Buffer): Promise<{ matrix: StoredMatrix; head: Float32Array }> {
    if (buffer.byteOffset % 4 !== 0) throw new Error('row buffer must be 4-byte aligned');
    const got = await store.readRange(key, 0, buffer);
    const header = parseNpyHeader(buffer.subarray(0, got)) ?? (await readHeader(store, key)); // a header longer than the buffer
    const matrix = await StoredMatrix.checked(store, key, header, size);
    // numpy pads headers to 64 bytes, so the rows are aligned; were they not, they are read again by readRows.
    const whole = matrix.cols > 0 && header.dataOffset % 4 === 0 ? Math.floor((got - header.dataOffset) / matrix.rowBytes) : 0;
    const count = Math.max(0, Math.min(whole, matrix.rows));
    const head = count === 0 ? new Float32Array(0) : new Float32Array(buffer.buffer, buffer.byteOffset + header.dataOffset, count * matrix.cols);
    return { matrix, head };
  }

  /** The matrix a header describes, once the object's size agrees with it. */
  private static async checked(store: ObjectStore, key: string, header: NpyHeader, size: number | undefined): Promise<StoredMatrix> {
    if (header.shape.length !== 2) throw new Error(`${key}: expected a 2-D .npy (rows × cols), got shape (${header.shape.join(', ')})`);
    const [rows, cols] = header.shape as [number, number];
    if (cols === 0 && rows > 0) throw new Error(`${key}: .npy rows of zero columns are not supported`);
    const expected = header.dataOffset + rows * cols * 4;
    const actual = size ?? (await store.size(key)) ?? 0;
    if (actual < expected) throw new Error(`${key} is truncated: ${actual} bytes, shape (${rows}, ${cols}) needs ${expected}`);
    if (actual > expected) throw new Error(`${key} has more data than its shape (${rows}, ${cols}): ${actual} bytes, ${expected} expected`);
    return new StoredMatrix(store, key, rows, cols, header.dataOffset);
  }

  get rowBytes(): number {
    return this.cols * 4;
  }

  /**
   * Rows `[first, first + count)` read into `into` (4-byte aligned, at least count × rowBytes long);
   * returns them as a view of `into`, valid until the buffer is reused.
   */
  async readRows(first: number, count: number, into: Buffer): Promise<Float32Array> {
    if (first < 0 || count < 0 || first + count > this.rows) throw new Error(`${this.key}: rows ${first}..${first + count} outside 0..${this.rows}`);
    if (into.byteOffset % 4 !== 0) throw new Error('row buffer must be 4-byte aligned');
    const bytes = count * this.rowBytes;
    if (into.length < bytes) throw new Error(`row buffer of ${into.length} bytes cannot hold ${count} rows of ${this.rowBytes}`);
    const got = await this.store.readRange(this.key, this.dataOffset + first * this.rowBytes, into.subarray(0, bytes));
    if (got !== bytes) throw new Error(`${this.key} ended early: rows ${first}..${first + count} gave ${got} of ${bytes} bytes`);
    return new Float32Array(into.buffer, into.byteOffset, count * this.cols);
  }
}

/** The `.npy` header of an object, read with as few ranged reads as its length needs. */
export async function readHeader(store: ObjectStore, key: string): Promise<NpyHeader> {
  for (let probe = HEADER_PROBE_BYTES; probe <= MAX_HEADER_BYTES; probe *= 16) {
    const head = Buffer.alloc(probe);
    const got = await store.readRange(key, 0, head);
    const header = parseNpyHeader(head.subarray(0, got));
    if (header) return header;
    if (got < probe) break; // the object ended inside its header
  }
  throw new Error(`${key}: truncated .npy header`);
}
