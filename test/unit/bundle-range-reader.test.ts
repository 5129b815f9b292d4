import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ClipError } from '../../schemas/failure.ts';
import { ReadAhead } from '../../sources/bundle/read-ahead.ts';
import { HttpRangeReader, parseContentRange, RangeTransferError, type RangeTransport } from '../../sources/bundle/range-reader.ts';
import { ZipArchive } from '../../sources/local/zip-archive.ts';
import { buildZip } from '../../demo/providers/bundle-files.ts';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'clapset-range-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Serves ranges of an in-memory archive and counts what was asked; `cut` shortens streamed bodies. */
function bufferTransport(archive: Buffer, options: { cut?: boolean } = {}) {
  const calls = { bytes: 0, streams: 0, fetched: 0 };
  const transport: RangeTransport = {
    async bytes(start, end) {
      calls.bytes++;
      calls.fetched += end - start;
      return archive.subarray(start, end);
    },
    stream(start, end) {
      calls.streams++;
      calls.fetched += end - start;
      const data = archive.subarray(start, options.cut ? start + Math.floor((end - start) / 2) : end);
      return Readable.from([data.subarray(0, data.length >> 1), data.subarray(data.length >> 1)]);
    },
  };
  return { transport, calls };
}

async function openOver(archive: Buffer, options: { cut?: boolean } = {}) {
  const tail = Math.min(archive.length, 22 + 0xffff);
  const { transport, calls } = bufferTransport(archive, options);
  const seed = { start: archive.length - tail, data: archive.subarray(archive.length - tail) };
  const zip = await ZipArchive.fromReader(new HttpRangeReader(transport, archive.length, seed), archive.length);
  return { zip, calls };
}

describe('zip archives over Range reads', () => {
  it('reads a 3,000-entry central directory in a handful of requests, not two per entry', async () => {
    const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `Folder ${i % 7}/Clip number ${String(i).padStart(5, '0')}.wav`, data: Buffer.from(`clip ${i}`) }));
    const archive = buildZip(entries);
    const { zip, calls } = await openOver(archive);
    try {
      assert.equal(zip.entries.length, 3000);
      assert.ok(calls.bytes <= 8, `${calls.bytes} requests`);
      const dest = join(tmp, 'one.wav');
      assert.equal(await zip.extract('Folder 3/Clip number 00010.wav', dest, { maxBytes: 100 }), 'clip 10'.length);
      assert.equal(await readFile(dest, 'utf8'), 'clip 10');
    } finally {
      zip.close();
    }
  });

  it('reads a zip64 archive (over 65,535 entries) through its zip64 end records', async () => {
    // Python writes the zip64 end-of-central-directory records once the entry count needs them.
    const script = 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n    for i in range(70000): z.writestr(f"d{i % 10}/c{i:05d}.wav", b"")\n    z.writestr("last.wav", b"the end")';
    const file = join(tmp, 'zip64.zip');
    execFileSync('python3', ['-c', script, file]);
    const archive = await readFile(file);
    const { zip, calls } = await openOver(archive);
    try {
      assert.equal(zip.entries.length, 70001);
      assert.ok(calls.bytes <= 12, `${calls.bytes} requests for a ${archive.length}-byte archive`);
      assert.equal(await zip.extract('last.wav', join(tmp, 'last.wav'), { maxBytes: 100 }), 7);
    } finally {
      zip.close();
    }
  });

  it('streams a large member with one request beyond its header, byte-exact, stored or deflated', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    const archive = buildZip([
      { name: 'a/stored.wav', data: big },
      { name: 'b/deflated.wav', data: Buffer.concat([big.subarray(0, 100_000), Buffer.alloc(500_000)]), method: 'deflate' },
      { name: 'c/tail.wav', data: Buffer.from('x') },
    ]);
    const { zip, calls } = await openOver(archive);
    try {
      const before = { ...calls };
      assert.equal(await zip.extract('a/stored.wav', join(tmp, 'stored.wav'), { maxBytes: 10_000_000 }), big.length);
      assert.ok((await readFile(join(tmp, 'stored.wav'))).equals(big));
      assert.equal(calls.streams - before.streams, 1);
      assert.ok(calls.fetched - before.fetched < big.length + 20_000, 'the header window and the member, nothing more');
      await zip.extract('b/deflated.wav', join(tmp, 'deflated.wav'), { maxBytes: 10_000_000 });
      assert.equal((await readFile(join(tmp, 'deflated.wav'))).length, 600_000);
    } finally {
      zip.close();
    }
  });

  it('a body cut short is a transfer error (retry), not corrupt data', async () => {
    const archive = buildZip([{ name: 'x.wav', data: randomBytes(200_000) }, { name: 'y.wav', data: randomBytes(10) }]);
    const { zip } = await openOver(archive, { cut: true });
    try {
      await assert.rejects(zip.extract('x.wav', join(tmp, 'cut.wav'), { maxBytes: 1_000_000 }), (error: unknown) => {
        assert.ok(error instanceof RangeTransferError && !(error instanceof ClipError), String(error));
        assert.match(error.message, /body ended after 100000 of 200000 bytes/);
        return true;
      });
    } finally {
      zip.close();
    }
  });

  it('read-ahead grows on sequential reads and starts small elsewhere', () => {
    const ra = new ReadAhead({ min: 10, max: 40 });
    const miss = (position: number, length: number) => {
      const w = ra.window(position, length, 1000);
      ra.noteRead(position, length);
      return w.end - w.start;
    };
    assert.equal(miss(0, 5), 10, 'a first read: small');
    ra.noteRead(5, 5); // a cached read up to the window's end
    assert.equal(miss(10, 5), 20, 'continuing: doubled');
    ra.noteRead(15, 15);
    assert.equal(miss(30, 5), 40);
    ra.noteRead(35, 35);
    assert.equal(miss(70, 5), 40, 'capped');
    assert.equal(miss(500, 5), 10, 'elsewhere: small again');
    assert.deepEqual(ra.window(995, 3, 1000), { start: 995, end: 1000 }, 'never past the end');
    assert.deepEqual(new ReadAhead({ min: 10 }).window(0, 64, 1000), { start: 0, end: 64 }, 'never less than the read');
  });

  it('parses Content-Range', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 100, total: 1000 });
    assert.deepEqual(parseContentRange(' bytes 900-999/1000 '), { start: 900, end: 1000, total: 1000 });
    for (const bad of [undefined, '', 'bytes */1000', 'bytes 5-4/10', 'bytes 0-10/10', 'items 0-1/2']) assert.equal(parseContentRange(bad), null, String(bad));
  });
});
