import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { decodeNpy, encodeNpy, npyHeader, npyRowStream } from '../../infra/npy.ts';

function matrix(rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(i) * 1000) / 7);
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

  test('a row stream writes the same bytes as encoding the whole matrix', async () => {
    const [rows, cols] = [37, 5];
    const data = matrix(rows, cols);
    const bytes = await buffer(npyRowStream((function* () { for (let r = 0; r < rows; r++) yield data.slice(r * cols, (r + 1) * cols); })(), [rows, cols]));
    assert.deepEqual(bytes, encodeNpy(data, [rows, cols]));
    assert.deepEqual(decodeNpy(await buffer(npyRowStream([], [0, 512]))).shape, [0, 512]);
  });

  test('wrong row counts and lengths are errors, not short files', async () => {
    await assert.rejects(buffer(npyRowStream([new Float32Array(3)], [2, 3])), /1 rows written, 2 announced/);
    await assert.rejects(buffer(npyRowStream([new Float32Array(3), new Float32Array(3)], [1, 3])), /more than the 1 rows/);
    await assert.rejects(buffer(npyRowStream([new Float32Array(2)], [1, 3])), /has 2 values, expected 3/);
  });

  test('truncated, over-long and foreign files are refused', () => {
    const bytes = encodeNpy(matrix(4, 3), [4, 3]);
    assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 5)), /holds 43 data bytes, shape \(4, 3\) needs 48/);
    assert.throws(() => decodeNpy(Buffer.concat([bytes, Buffer.alloc(4)])), /holds 52 data bytes/);
    assert.throws(() => decodeNpy(bytes.subarray(0, 20)), /truncated .npy header/);
    const f8 = Buffer.from(bytes);
    f8.write("'<f8'", f8.indexOf("'<f4'"), 'latin1');
    assert.throws(() => decodeNpy(f8), /float32/);
    assert.throws(() => decodeNpy(Buffer.from('PK\u0003\u0004 not numpy at all')), /bad magic/);
  });
});
