import type { Readable } from 'node:stream';

export interface StoredObject {
  /** Key relative to the store's root prefix. */
  key: string;
  size: number;
}

/**
 * A flat key → bytes store rooted at a prefix (an S3 bucket/prefix or a local folder). Keys are
 * relative, `/`-separated, and can never escape the root (see `safeKey`).
 */
export interface ObjectStore {
  /** The URI the store was opened from, with any credentials removed. */
  readonly uri: string;
  /** Writes a whole object; a stream body is uploaded as it is read (multipart on S3), never buffered whole. */
  put(key: string, body: Buffer | string | Readable, options?: { contentType?: string }): Promise<void>;
  /**
   * Stores a local file under `key`, consuming it: a local store moves it into place (no copy when
   * on the same filesystem), a remote one uploads it. The file is gone afterwards either way.
   */
  putFile(key: string, path: string, options?: { contentType?: string }): Promise<void>;
  /** Streams an object; rejects with `NotFoundError` when absent. */
  getStream(key: string): Promise<Readable>;
  getBuffer(key: string): Promise<Buffer>;
  /**
   * Fills `into` with the object's bytes from `offset` on (one file read, or one ranged GET) and
   * returns how many it got: fewer than `into.length` only at the end of the object, 0 past it.
   * Rejects with `NotFoundError` when absent. Lets big matrices be scanned in blocks of known size
   * into a reused buffer, and headers be read without streaming the rest.
   */
  readRange(key: string, offset: number, into: Uint8Array): Promise<number>;
  /** Size in bytes, or null when absent. */
  size(key: string): Promise<number | null>;
  exists(key: string): Promise<boolean>;
  /** Every object under `prefix` (recursively), sorted by key. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Deletes the objects; absent keys are ignored. */
  delete(keys: string[]): Promise<void>;
  /** A reader-facing location for a key (`s3://…` or an absolute path), for cards and links. */
  locate(key: string): string;
  close(): Promise<void>;
}

export class NotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object at key ${JSON.stringify(key)}`);
    this.name = 'NotFoundError';
  }
}

export class UnsafeKeyError extends Error {
  constructor(key: string, why: string) {
    super(`refusing object key ${JSON.stringify(key)}: ${why}`);
    this.name = 'UnsafeKeyError';
  }
}

/**
 * Validates a relative object key so that it can never escape the store's prefix: no absolute
 * paths, no `.`/`..` segments, no empty segments, no backslashes or control characters.
 */
export function safeKey(key: string): string {
  if (key.length === 0) throw new UnsafeKeyError(key, 'empty key');
  if (key.length > 1024) throw new UnsafeKeyError(key.slice(0, 64), 'longer than 1024 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw new UnsafeKeyError(key, 'control character or backslash');
  if (key.startsWith('/')) throw new UnsafeKeyError(key, 'absolute key');
  for (const segment of key.split('/')) {
    if (segment === '' && key.endsWith('/')) continue; // a trailing slash names a "folder" prefix
    if (segment === '' || segment === '.' || segment === '..') throw new UnsafeKeyError(key, `bad segment ${JSON.stringify(segment)}`);
  }
  return key;
}
