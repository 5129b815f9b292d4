import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { type ObjectStore, type StoredObject, NotFoundError, safeKey, UnsafeKeyError } from './object-store.ts';

// Temp files live next to their target (same filesystem, so rename is atomic) under this marker,
// which `list` skips: a reader never sees a half-written object.
const TEMP_MARKER = '.clapset-partial-';

/** An ObjectStore on a local folder; keys map to files below `root`. */
export class LocalStore implements ObjectStore {
  readonly uri: string;
  /** Absolute path of the store's folder. */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  async put(key: string, body: Buffer | string | Readable, _options: { contentType?: string } = {}): Promise<void> {
    const target = this.pathOf(key);
    if (key.endsWith('/')) throw new UnsafeKeyError(key, 'a folder key cannot hold an object');
    await mkdir(dirname(target), { recursive: true });
    await this.assertRealParentInside(key, target);
    const temp = join(dirname(target), `${TEMP_MARKER}${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      if (body instanceof Readable) await pipeline(body, createWriteStream(temp, { flags: 'wx' }));
      else await writeFile(temp, body, { flag: 'wx' });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async putFile(key: string, path: string, options: { contentType?: string } = {}): Promise<void> {
    const target = this.pathOf(key);
    if (key.endsWith('/')) throw new UnsafeKeyError(key, 'a folder key cannot hold an object');
    await mkdir(dirname(target), { recursive: true });
    await this.assertRealParentInside(key, target);
    try {
      await rename(path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await this.put(key, createReadStream(path), options); // another filesystem: copy atomically
      await rm(path, { force: true });
    }
  }

  async getStream(key: string): Promise<Readable> {
    // Open first so a missing key rejects here rather than as a later stream error.
    return (await this.openFile(key)).createReadStream();
  }

  async readRange(key: string, offset: number, into: Uint8Array): Promise<number> {
    const handle = await this.openFile(key);
    try {
      let filled = 0;
      while (filled < into.length) {
        const { bytesRead } = await handle.read(into, filled, into.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled;
    } finally {
      await handle.close();
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      throw isMissing(error) ? new NotFoundError(key) : error;
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? info.size : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    if (prefix !== '') safeKey(prefix);
    // Walk only the deepest folder the prefix names; the rest of the prefix filters file names.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const found: StoredObject[] = [];
    await this.walk(folder === '' ? this.root : this.pathOf(folder), folder, prefix, found);
    // Compare as UTF-8 bytes, the order S3 lists in, so both stores enumerate identically.
    found.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    yield* found;
  }

  async delete(keys: string[]): Promise<void> {
    const paths = keys.map((key) => this.pathOf(key)); // validate all before deleting any
    for (const [index, path] of paths.entries()) {
      try {
        await this.assertRealParentInside(keys[index] ?? '', path);
      } catch (error) {
        if (isMissing(error)) continue; // its folder is gone, so the object is too
        throw error;
      }
      await rm(path, { force: true });
    }
  }

  locate(key: string): string {
    return this.pathOf(key);
  }

  async close(): Promise<void> {}

  /** Absolute path for a key, refusing anything that would land outside the root. */
  private pathOf(key: string): string {
    const path = resolve(this.root, ...safeKey(key).split('/').filter(Boolean));
    // safeKey already forbids `..` and absolute keys; this is a second, independent guard.
    if (!isInside(this.root, path)) throw new UnsafeKeyError(key, `resolves outside the store root ${this.root}`);
    return path;
  }

  /** Opens a key's file for reading; NotFoundError when absent or not a regular file. */
  private async openFile(key: string): Promise<FileHandle> {
    const handle = await open(this.pathOf(key), 'r').catch((error: unknown) => {
      throw isMissing(error) ? new NotFoundError(key) : error;
    });
    const isFile = await handle.stat().then((info) => info.isFile(), () => false);
    if (!isFile) {
      await handle.close();
      throw new NotFoundError(key);
    }
    return handle;
  }

  /** Before writing or deleting: a symlinked folder inside the root must not lead outside it. */
  private async assertRealParentInside(key: string, path: string): Promise<void> {
    const [realRoot, realParent] = await Promise.all([realpath(this.root), realpath(dirname(path))]);
    if (!isInside(realRoot, realParent) && realParent !== realRoot) {
      throw new UnsafeKeyError(key, `its folder resolves (through a symlink) outside the store root ${this.root}`);
    }
  }

  private async walk(dir: string, dirKey: string, prefix: string, found: StoredObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_MARKER)) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      // Symlinks are not followed: a link must not let a listing reach outside the root.
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.walk(join(dir, entry.name), key, prefix, found);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = await stat(join(dir, entry.name)).catch((error: unknown) => (isMissing(error) ? null : Promise.reject(error)));
        if (info) found.push({ key, size: info.size });
      }
    }
  }
}

function isInside(root: string, path: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
