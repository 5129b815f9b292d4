import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeNpy } from '../../infra/npy.ts';
import { NotFoundError } from '../../infra/store/object-store.ts';
import { LocalStore } from '../../infra/store/local-store.ts';
import { readHeader, StoredMatrix } from '../../infra/stored-matrix.ts';

/** Row reads of .npy matrices through a real LocalStore (the S3 side of readRange is in the store contract). */

let root: string;
let store: LocalStore;

function matrix(rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(i) * 1000) / 7);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-stored-matrix-'));
  store = new LocalStore(root);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('StoredMatrix', () => {
  test('rows come back exactly, for any block size, into one reused buffer', async () => {
    const [rows, cols] = [37, 5];
    const data = matrix(rows, cols);
    await store.put('m/a.npy', encodeNpy(data, [rows, cols]));
    const opened = await StoredMatrix.open(store, 'm/a.npy');
    assert.deepEqual([opened.rows, opened.cols, opened.rowBytes], [rows, cols, 20]);
    for (const block of [1, 7, 36, 37]) {
      const buffer = Buffer.allocUnsafeSlow(block * opened.rowBytes);
      const out = new Float32Array(rows * cols);
      for (let first = 0; first < rows; first += block) {
        const count = Math.min(block, rows - first);
        const view = await opened.readRows(first, count, buffer);
        assert.equal(view.buffer, buffer.buffer, 'a view of the caller’s buffer, not a copy');
        out.set(view, first * cols);
      }
      assert.deepEqual(out, data, `blocks of ${block}`);
    }
    await assert.rejects(opened.readRows(30, 8, Buffer.alloc(8 * 20)), /rows 30\.\.38 outside 0\.\.37/);
    await assert.rejects(opened.readRows(0, 8, Buffer.alloc(7 * 20)), /cannot hold 8 rows/);
  });

  test('openInto: one read brings the header and the rows that fit; the rest come by readRows', async () => {
    const [rows, cols] = [37, 5];
    const data = matrix(rows, cols);
    await store.put('m/into.npy', encodeNpy(data, [rows, cols]));
    const size = (await store.size('m/into.npy'))!;
    // Counting the reads of a real LocalStore: instrumentation, the reads themselves are real.
    let reads = 0;
    const counted = new (class extends LocalStore {
      override async readRange(key: string, offset: number, into: Uint8Array): Promise<number> {
        reads++;
        return super.readRange(key, offset, into);
      }
    })(root);
    const whole = await StoredMatrix.openInto(counted, 'm/into.npy', size, Buffer.allocUnsafeSlow(4096));
    assert.equal(reads, 1, 'a matrix that fits the buffer costs one read');
    assert.deepEqual(whole.head, data);
    const buffer = Buffer.allocUnsafeSlow(128 + 10 * 20 + 7); // header, 10 whole rows and part of one
    const part = await StoredMatrix.openInto(counted, 'm/into.npy', size, buffer);
    assert.equal(part.head.length, 10 * cols);
    assert.deepEqual(part.head, data.subarray(0, 10 * cols));
    assert.equal(part.head.buffer, buffer.buffer, 'a view of the buffer');
    assert.deepEqual(await part.matrix.readRows(10, 27, Buffer.allocUnsafeSlow(27 * 20)), data.subarray(10 * cols));
    // Smaller than the header: no rows yet, the header still read whole; a lying size still refused.
    const tiny = await StoredMatrix.openInto(counted, 'm/into.npy', size, Buffer.allocUnsafeSlow(64));
    assert.deepEqual([tiny.head.length, tiny.matrix.rows, tiny.matrix.cols], [0, rows, cols]);
    await assert.rejects(StoredMatrix.openInto(counted, 'm/into.npy', size + 4, Buffer.allocUnsafeSlow(4096)), /more data than its shape|truncated/);
  });

  test('an empty matrix opens with no rows', async () => {
    await store.put('m/empty.npy', encodeNpy(new Float32Array(0), [0, 512]));
    const opened = await StoredMatrix.open(store, 'm/empty.npy');
    assert.deepEqual([opened.rows, opened.cols], [0, 512]);
  });

  test('truncated, over-long, 1-D, foreign and missing objects are refused at open', async () => {
    const bytes = encodeNpy(matrix(4, 3), [4, 3]);
    await store.put('bad/short.npy', bytes.subarray(0, bytes.length - 5));
    await store.put('bad/long.npy', Buffer.concat([bytes, Buffer.alloc(4)]));
    await store.put('bad/header-cut.npy', bytes.subarray(0, 20));
    await store.put('bad/vector.npy', encodeNpy(matrix(1, 6), [6]));
    await store.put('bad/zip.npy', 'PK\u0003\u0004 not numpy at all');
    await assert.rejects(StoredMatrix.open(store, 'bad/short.npy'), /bad\/short\.npy is truncated: 171 bytes, shape \(4, 3\) needs 176/);
    await assert.rejects(StoredMatrix.open(store, 'bad/long.npy'), /more data than its shape \(4, 3\)/);
    await assert.rejects(StoredMatrix.open(store, 'bad/header-cut.npy'), /truncated .npy header/);
    await assert.rejects(StoredMatrix.open(store, 'bad/vector.npy'), /expected a 2-D .npy/);
    await assert.rejects(StoredMatrix.open(store, 'bad/zip.npy'), /bad magic/);
    await assert.rejects(StoredMatrix.open(store, 'bad/none.npy'), NotFoundError);
    // A size from a listing that disagrees with the object is caught too.
    await store.put('bad/ok.npy', bytes);
    await assert.rejects(StoredMatrix.open(store, 'bad/ok.npy', bytes.length - 4), /truncated/);
  });

  test('a header longer than the first probe (format 2.0, 5,000-byte header) is read whole', async () => {
    const data = matrix(3, 2);
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    dict += ' '.repeat(5000 - 12 - dict.length - 1) + '\n';
    const head = Buffer.alloc(12);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(head);
    head.writeUInt32LE(dict.length, 8);
    await store.put('m/v2.npy', Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.from(data.buffer)]));
    const header = await readHeader(store, 'm/v2.npy');
    assert.deepEqual(header, { shape: [3, 2], dataOffset: 5000 });
    const opened = await StoredMatrix.open(store, 'm/v2.npy');
    assert.deepEqual(await opened.readRows(1, 2, Buffer.allocUnsafeSlow(16)), data.subarray(2));
  });
});
