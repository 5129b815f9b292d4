import { Readable, Transform, type TransformCallback } from 'node:stream';
import yauzl from 'yauzl';
import { OptedOutError } from '../../infra/http/errors.ts';
import { ClipError } from '../../schemas/failure.ts';
import { ReadAhead } from './read-ahead.ts';

/**
 * Byte ranges of one remote archive (end exclusive). `bytes` is for small reads and must return
 * exactly the range asked for; `stream` is for member data of any size. Both fail with
 * `RangeTransferError` (or a `ClipError` / `OptedOutError` for permanent answers) when the server does not deliver.
 */
export interface RangeTransport {
  bytes(start: number, end: number): Promise<Buffer>;
  stream(start: number, end: number): Readable;
}

/**
 * Marks trouble with the transfer (a body cut short, a server answering another range or a changed
 * archive) as opposed to corrupt zip data: ZipArchive treats errors with a `code` as transient and
 * lets them through instead of calling the entry undecodable.
 */
export class RangeTransferError extends Error {
  readonly code = 'ERR_BUNDLE_TRANSFER';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RangeTransferError';
  }
}

interface Window {
  start: number;
  data: Buffer;
}

const CACHED_WINDOWS = 3;

/**
 * A yauzl reader over HTTP Range requests, so a multi-GB zip on a web server is read like a local
 * file: the central directory once, then each member's bytes on their own, never the archive
 * whole. Small reads go through a read-ahead cache (see ReadAhead); member data streams straight
 * from one Range request per member (or from the cache when the member is inside a cached window).
 */
export class HttpRangeReader extends yauzl.RandomAccessReader {
  readonly #transport: RangeTransport;
  readonly #total: number;
  readonly #readAhead: ReadAhead;
  #windows: Window[] = [];

  /** `seed` holds bytes already fetched (the tail from the probe that learned the size). */
  constructor(transport: RangeTransport, total: number, seed?: Window, readAhead = new ReadAhead()) {
    super();
    this.#transport = transport;
    this.#total = total;
    this.#readAhead = readAhead;
    if (seed) this.#windows.push(seed);
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const done = callback as (err: Error | null, bytesRead?: number) => void;
    const hit = this.#cached(position, position + length);
    if (hit) {
      this.#readAhead.noteRead(position, length);
      hit.data.copy(buffer, offset, position - hit.start, position - hit.start + length);
      setImmediate(() => done(null, length));
      return;
    }
    const { start, end } = this.#readAhead.window(position, length, this.#total);
    this.#readAhead.noteRead(position, length);
    this.#fetchWindow(start, end).then(
      (window) => {
        const available = Math.min(length, window.start + window.data.length - position);
        window.data.copy(buffer, offset, position - window.start, position - window.start + available);
        done(null, available);
      },
      (error: unknown) => done(error as Error),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const hit = this.#cached(start, end);
    if (hit) return Readable.from([hit.data.subarray(start - hit.start, end - hit.start)], { objectMode: false });
    const body = this.#transport.stream(start, end);
    const counted = exactLength(end - start, `bytes ${start}-${end - 1}`);
    body.on('error', (error) => counted.destroy(transferError(error)));
    counted.on('close', () => body.destroy());
    return body.pipe(counted);
  }

  #cached(start: number, end: number): Window | undefined {
    return this.#windows.find((w) => start >= w.start && end <= w.start + w.data.length);
  }

  async #fetchWindow(start: number, end: number): Promise<Window> {
    let data: Buffer;
    try {
      data = await this.#transport.bytes(start, end);
    } catch (error) {
      throw transferError(error);
    }
    if (data.length !== end - start) throw new RangeTransferError(`range ${start}-${end - 1}: expected ${end - start} bytes, got ${data.length}`);
    const window = { start, data };
    this.#windows.unshift(window);
    this.#windows.length = Math.min(this.#windows.length, CACHED_WINDOWS);
    return window;
  }
}

/** `Content-Range: bytes a-b/total` as [a, b + 1) of `total`; null when absent or not that shape. */
export function parseContentRange(header: string | undefined): { start: number; end: number; total: number } | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  const total = Number(m[3]);
  return start < end && end <= total ? { start, end, total } : null;
}

/** Passes exactly `expected` bytes; fewer (a dropped connection) or more is an error, not an end. */
function exactLength(expected: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > expected) callback(new RangeTransferError(`${what}: the server sent more than ${expected} bytes`));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(seen === expected ? null : new RangeTransferError(`${what}: body ended after ${seen} of ${expected} bytes`));
    },
  });
}

function transferError(error: unknown): Error {
  if (error instanceof RangeTransferError || error instanceof ClipError || error instanceof OptedOutError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Errors that already carry a code (HTTP client errors, ECONNRESET) pass as they are.
  if (typeof code === 'string' && code !== '') return error as Error;
  return new RangeTransferError((error as Error)?.message ?? String(error), { cause: error });
}
