import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { decodeNpy, encodeNpy, npyHeader, npyRowStream, readNpyBlocks, readNpyRows } from '../../infra/npy.ts';

function matrix(rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(i) * 1000) / 7);
}

/** Re-chunks bytes into pieces of `size` (odd sizes cut rows and the header anywhere). */
function chunked(bytes: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return Readable.from(pieces);
}

describe('npy', () => {
  test('v1.0 header: numpy layout, data 64-byte aligned', () => {
    const header = npyHeader([3, 512]);
    assert.equal(header.length % 64, 0);
    assert.deepEqual([...header.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const text = header.subarray(10).toString('latin1');
    assert.match(text, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 512\), \} *\n$/);
    assert.match(npyHeader([7]).subarray(10).toString('latin1'), /'shape': \(7,\)/);
  });

  test('encode/decode round trip', () => {
    const data = matrix(4, 1001 * 64 / 4);
    const decoded = decodeNpy(encodeNpy(data, [4, 1001 * 64 / 4]));
    assert.deepEqual(decoded.shape, [4, 16016]);
    assert.deepEqual(decoded.data, data);
  });

  test('row stream → blocks, whatever the chunking', async () => {
    const [rows, cols] = [37, 5];
    const data = matrix(rows, cols);
    const bytes = await buffer(npyRowStream((function* () { for (let r = 0; r < rows; r++) yield data.slice(r * cols, (r + 1) * cols); })(), [rows, cols]));
    assert.deepEqual(bytes, encodeNpy(data, [rows, cols]));
    for (const chunk of [1, 7, 13, 64, 1 << 16]) {
      let next = 0;
      const out = new Float32Array(rows * cols);
      for await (const block of readNpyBlocks(chunked(bytes, chunk), { rowsPerBlock: 8 })) {
        assert.ok(block.rows >= 1 && block.rows <= 8);
        assert.equal(block.firstRow, next, `chunk ${chunk}: blocks are contiguous`);
        assert.equal(block.data.length, block.rows * cols);
        next += block.rows;
        out.set(block.data, block.firstRow * cols);
      }
      assert.equal(next, rows);
      assert.deepEqual(out, data, `chunk ${chunk}`);
    }
    // One aligned chunk: whole rows come out as views of it, not copies.
    for await (const block of readNpyBlocks(Readable.from([bytes]), { rowsPerBlock: 100 })) {
      assert.equal(block.data.buffer, bytes.buffer);
      assert.equal(block.rows, rows);
    }
    let i = 0;
    for await (const row of readNpyRows(chunked(bytes, 11))) assert.deepEqual(row, data.subarray(i * cols, ++i * cols));
    assert.equal(i, rows);
  });

  test('an empty matrix streams and reads back as no rows', async () => {
    const bytes = await buffer(npyRowStream([], [0, 512]));
    const blocks = [];
    for await (const block of readNpyBlocks(Readable.from([bytes]))) blocks.push(block);
    assert.equal(blocks.length, 0);
  });

  test('wrong row counts and lengths are errors, not short files', async () => {
    await assert.rejects(buffer(npyRowStream([new Float32Array(3)], [2, 3])), /1 rows written, 2 announced/);
    await assert.rejects(buffer(npyRowStream([new Float32Array(3), new Float32Array(3)], [1, 3])), /more than the 1 rows/);
    await assert.rejects(buffer(npyRowStream([new Float32Array(2)], [1, 3])), /has 2 values, expected 3/);
  });

  test('truncated, over-long and foreign files are refused', async () => {
    const bytes = encodeNpy(matrix(4, 3), [4, 3]);
    const drain = async (input: Buffer) => {
      for await (const _ of readNpyBlocks(Readable.from([input]))) void _;
    };
    await assert.rejects(drain(bytes.subarray(0, bytes.length - 5)), /truncated/);
    await assert.rejects(drain(Buffer.concat([bytes, Buffer.alloc(4)])), /more data than its shape/);
    await assert.rejects(drain(bytes.subarray(0, 20)), /truncated/);
    const f8 = Buffer.from(bytes);
    f8.write("'<f8'", f8.indexOf("'<f4'"), 'latin1');
    await assert.rejects(drain(f8), /float32/);
    assert.throws(() => decodeNpy(Buffer.from('PK\u0003\u0004 not numpy at all')), /bad magic/);
  });
});
