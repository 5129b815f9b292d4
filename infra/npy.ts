import { Readable } from 'node:stream';

/**
 * NumPy `.npy` files of little-endian float32 in C order — the per-shard embedding matrices
 * (`np.load` reads them as is). Writing streams row by row from a known shape; big matrices are
 * read by rows from their object store (`stored-matrix.ts`), small arrays whole (`decodeNpy`).
 */

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export interface NpyHeader {
  shape: number[];
  /** Bytes before the data (magic, version, header length, header). */
  dataOffset: number;
}

/** A v1.0 header for a float32 C-order array, padded so the data starts on a 64-byte boundary. */
export function npyHeader(shape: readonly number[]): Buffer {
  for (const dim of shape) if (!Number.isInteger(dim) || dim < 0) throw new Error(`bad npy dimension ${dim}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (dict.length > 0xffff) throw new Error('npy header too long for format 1.0');
  const out = Buffer.alloc(MAGIC.length + 4 + dict.length);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(dict.length, 8);
  out.write(dict, 10, 'latin1');
  return out;
}

/** A whole array as `.npy` bytes (small arrays: features of one clip, tests). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: ${data.length} values for shape (${shape.join(', ')})`);
  return Buffer.concat([npyHeader(shape), float32Bytes(data)]);
}

/**
 * A (rows × cols) matrix as a `.npy` byte stream, written one row at a time as `rows` yields them
 * (so a shard's embeddings can be uploaded without first being gathered into one array). Errors if
 * `rows` yields a different number of rows, or a row of the wrong length.
 */
export function npyRowStream(rows: Iterable<Float32Array> | AsyncIterable<Float32Array>, shape: readonly [rows: number, cols: number]): Readable {
  const [count, cols] = shape;
  async function* generate(): AsyncGenerator<Buffer> {
    yield npyHeader(shape);
    let written = 0;
    for await (const row of rows) {
      if (row.length !== cols) throw new Error(`npy row ${written} has ${row.length} values, expected ${cols}`);
      if (++written > count) throw new Error(`npy: more than the ${count} rows announced`);
      yield Buffer.from(float32Bytes(row)); // copy: the caller may reuse its row buffer
    }
    if (written !== count) throw new Error(`npy: ${written} rows written, ${count} announced`);
  }
  return Readable.from(generate(), { objectMode: false });
}

/** Parses a header from the start of `bytes`; null when more bytes are needed. */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader | null {
  if (bytes.length < 10) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buf.subarray(0, 6).equals(MAGIC)) throw new Error('not an .npy file (bad magic)');
  const major = buf[6];
  const lengthBytes = major === 1 ? 2 : major === 2 || major === 3 ? 4 : 0;
  if (lengthBytes === 0) throw new Error(`unsupported .npy format version ${major}`);
  if (buf.length < 8 + lengthBytes) return null;
  const headerLength = lengthBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (buf.length < dataOffset) return null;
  const text = buf.subarray(8 + lengthBytes, dataOffset).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  if (descr !== '<f4') throw new Error(`.npy dtype ${descr ?? '?'} is not little-endian float32 ('<f4')`);
  if (!/'fortran_order'\s*:\s*False/.test(text)) throw new Error('.npy in Fortran order is not supported');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw new Error('.npy header has no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`.npy shape (${shapeText}) is not a list of sizes`);
  return { shape, dataOffset };
}

/** A whole `.npy` held in memory (small arrays only). */
export function decodeNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  const header = parseNpyHeader(bytes);
  if (!header) throw new Error('truncated .npy header');
  const count = header.shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(header.dataOffset);
  if (body.length !== count * 4) throw new Error(`.npy holds ${body.length} data bytes, shape (${header.shape.join(', ')}) needs ${count * 4}`);
  return { shape: header.shape, data: float32FromBytes(body) };
}

function float32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Copies into a fresh, aligned Float32Array (a buffer's bytes may sit at any byte offset). */
function float32FromBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
