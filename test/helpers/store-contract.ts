// Behaviour every ObjectStore must share, run by the local and the S3 integration tests alike.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { type ObjectStore, NotFoundError } from '../../infra/store/object-store.ts';

const MIB = 1024 * 1024;

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function sha256Of(stream: Readable): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), bytes };
}

/**
 * A pseudo-random body of `size` bytes made on demand (so the test itself holds no copy), with its
 * sha256 known once the stream has been read to the end.
 */
export function generatedBody(size: number, seed = 1): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  let state = seed >>> 0 || 1;
  const stream = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, size - produced));
      for (let i = 0; i + 4 <= chunk.length; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      chunk.fill(7, chunk.length - (chunk.length % 4));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** Heap plus Buffer memory that is live (garbage collected first) — a Buffer's bytes are outside the JS heap. */
let forceGc: (() => void) | undefined;
function liveBytes(): number {
  if (!forceGc) {
    setFlagsFromString('--expose-gc');
    forceGc = runInNewContext('gc') as () => void;
  }
  // Twice: V8 frees dead ArrayBuffer memory on a background sweeper, which the next GC waits for.
  forceGc();
  forceGc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Runs `work` while sampling live memory; returns the peak growth over the starting level. */
export async function peakLiveGrowth(work: () => Promise<void>, everyMs = 50): Promise<number> {
  const baseline = liveBytes();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, liveBytes())), everyMs);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, liveBytes()) - baseline;
}

export interface ContractOptions {
  /** Size of the streamed round trip (multipart on S3). */
  bigObjectBytes?: number;
  /** Largest live-memory growth allowed while streaming it up and down. */
  maxGrowthBytes?: number;
}

/** Registers the shared tests; `store()` is called inside each test, after the suite's `before` hooks ran. */
export function objectStoreContract(store: () => ObjectStore, options: ContractOptions = {}): void {
  const bigBytes = options.bigObjectBytes ?? 40 * MIB;
  const maxGrowth = options.maxGrowthBytes ?? bigBytes / 2;

  test('put and get a Buffer, a string and a stream', async () => {
    const s = store();
    await s.put('basic/buffer.bin', Buffer.from([0, 1, 2, 255]));
    await s.put('basic/text.json', '{"ok":true}', { contentType: 'application/json' });
    await s.put('basic/stream.txt', Readable.from([Buffer.from('hello, '), Buffer.from('stream')]));
    assert.deepEqual(await s.getBuffer('basic/buffer.bin'), Buffer.from([0, 1, 2, 255]));
    assert.equal((await s.getBuffer('basic/text.json')).toString('utf8'), '{"ok":true}');
    const streamed = Buffer.concat(await collect(await s.getStream('basic/stream.txt')) as Buffer[]);
    assert.equal(streamed.toString('utf8'), 'hello, stream');
    assert.equal(await s.size('basic/buffer.bin'), 4);
    assert.equal(await s.size('basic/stream.txt'), 13);
    assert.equal(await s.exists('basic/text.json'), true);
  });

  test('put overwrites, and an empty object is an object', async () => {
    const s = store();
    await s.put('over/x', 'first version');
    await s.put('over/x', 'second');
    assert.equal((await s.getBuffer('over/x')).toString(), 'second');
    await s.put('over/empty', Buffer.alloc(0));
    assert.equal(await s.size('over/empty'), 0);
    assert.equal(await s.exists('over/empty'), true);
    assert.equal((await s.getBuffer('over/empty')).length, 0);
  });

  test('putFile stores a local file and consumes it', async () => {
    const s = store();
    const dir = await mkdtemp(join(tmpdir(), 'clapset-putfile-'));
    const file = join(dir, 'clip.flac');
    await writeFile(file, Buffer.from('fLaC and some bytes'));
    await s.putFile('staged/clip.flac', file, { contentType: 'audio/flac' });
    assert.equal((await s.getBuffer('staged/clip.flac')).toString(), 'fLaC and some bytes');
    assert.equal(existsSync(file), false, 'the source file is consumed');
    await rm(dir, { recursive: true, force: true });
  });

  test('missing keys: size null, exists false, get rejects with NotFoundError', async () => {
    const s = store();
    assert.equal(await s.size('missing/nothing'), null);
    assert.equal(await s.exists('missing/nothing'), false);
    await assert.rejects(s.getStream('missing/nothing'), (error: unknown) => error instanceof NotFoundError && error.key === 'missing/nothing');
    await assert.rejects(s.getBuffer('missing/nothing'), NotFoundError);
    await assert.rejects(s.readRange('missing/nothing', 0, new Uint8Array(8)), NotFoundError);
  });

  test('readRange fills a buffer from an offset: whole, short at the end, nothing past it', async () => {
    const s = store();
    const body = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 251));
    await s.put('range/body.bin', body);
    const into = Buffer.alloc(100, 0xee);
    assert.equal(await s.readRange('range/body.bin', 0, into), 100);
    assert.deepEqual(into, body.subarray(0, 100));
    assert.equal(await s.readRange('range/body.bin', 123, into), 100);
    assert.deepEqual(into, body.subarray(123, 223));
    into.fill(0xee);
    assert.equal(await s.readRange('range/body.bin', 250, into), 50, 'short at the end of the object');
    assert.deepEqual(into.subarray(0, 50), body.subarray(250));
    assert.ok(into.subarray(50).every((b) => b === 0xee), 'bytes past the end are left alone');
    assert.equal(await s.readRange('range/body.bin', 300, into), 0);
    assert.equal(await s.readRange('range/body.bin', 1000, into), 0);
    // Into a view: the bytes land at the view's offset in the underlying buffer.
    const backing = Buffer.alloc(16);
    assert.equal(await s.readRange('range/body.bin', 10, backing.subarray(4, 8)), 4);
    assert.deepEqual([...backing.subarray(4, 8)], [10, 11, 12, 13]);
    assert.equal(backing[3], 0);
    assert.equal(backing[8], 0);
  });

  test('list is recursive, sorted by key and limited to the prefix', async () => {
    const s = store();
    const keys = ['ls/b/2.txt', 'ls/a/sub/deep/4.txt', 'ls/a/1.txt', 'ls/c.txt', 'ls/a/sub/3.txt', 'lsx/other.txt'];
    for (const key of keys) await s.put(key, key);
    const all = await collect(s.list('ls/'));
    assert.deepEqual(
      all.map((o) => o.key),
      ['ls/a/1.txt', 'ls/a/sub/3.txt', 'ls/a/sub/deep/4.txt', 'ls/b/2.txt', 'ls/c.txt'],
    );
    assert.deepEqual(all[0], { key: 'ls/a/1.txt', size: 'ls/a/1.txt'.length });
    assert.deepEqual((await collect(s.list('ls/a/sub/'))).map((o) => o.key), ['ls/a/sub/3.txt', 'ls/a/sub/deep/4.txt']);
    // A prefix is a string prefix, not only a folder, as on S3.
    assert.deepEqual((await collect(s.list('ls'))).map((o) => o.key), [...all.map((o) => o.key), 'lsx/other.txt']);
    assert.deepEqual((await collect(s.list('ls/a/su'))).map((o) => o.key), ['ls/a/sub/3.txt', 'ls/a/sub/deep/4.txt']);
    assert.deepEqual(await collect(s.list('ls/none/')), []);
    assert.ok((await collect(s.list(''))).some((o) => o.key === 'lsx/other.txt'), 'an empty prefix lists everything');
  });

  test('delete removes the keys and ignores absent ones', async () => {
    const s = store();
    await s.put('del/a', 'a');
    await s.put('del/b', 'b');
    await s.put('del/keep', 'k');
    await s.delete(['del/a', 'del/b', 'del/never-existed']);
    assert.deepEqual((await collect(s.list('del/'))).map((o) => o.key), ['del/keep']);
    await s.delete([]);
  });

  test(`a ${Math.round(bigBytes / MIB)} MiB stream round-trips byte-exactly without being held in memory`, async (t) => {
    const s = store();
    const body = generatedBody(bigBytes);
    const upGrowth = await peakLiveGrowth(() => s.put('big/shard.tar', body.stream, { contentType: 'application/x-tar' }));
    const sent = body.digest();
    assert.equal(await s.size('big/shard.tar'), bigBytes);
    let received = { hex: '', bytes: 0 };
    const downGrowth = await peakLiveGrowth(async () => {
      received = await sha256Of(await s.getStream('big/shard.tar'));
    });
    assert.equal(received.bytes, bigBytes);
    assert.equal(received.hex, sent, 'sha256 of the downloaded object');
    const mib = (n: number): string => `${(n / MIB).toFixed(1)} MiB`;
    t.diagnostic(`peak live-memory growth: upload ${mib(upGrowth)}, download ${mib(downGrowth)}`);
    assert.ok(upGrowth < maxGrowth, `upload grew live memory by ${mib(upGrowth)} (limit ${mib(maxGrowth)}, object ${mib(bigBytes)})`);
    assert.ok(downGrowth < maxGrowth, `download grew live memory by ${mib(downGrowth)} (limit ${mib(maxGrowth)})`);
    await s.delete(['big/shard.tar']);
  });
}
