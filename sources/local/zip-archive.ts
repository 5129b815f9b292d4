import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, RandomAccessReader, ZipFile } from 'yauzl';
import { ClipError } from '../../schemas/failure.ts';
import { compareUtf8, normaliseCollectionPath } from './paths.ts';

export interface ZipEntryInfo {
  /** The entry name as stored (decoded; `\` turned into `/`). */
  name: string;
  /** `name` normalised (see `normaliseCollectionPath`); may escape (`../x`) in hostile archives. */
  path: string;
  /** Uncompressed size the central directory claims (extraction enforces it). */
  size: number;
  compressedSize: number;
}

// decodeStrings: false because yauzl otherwise rejects the whole archive on one `../` name;
// we decode names ourselves and judge them per entry instead.
const OPEN_OPTIONS = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true } as const;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * A zip archive opened for random access: only the central directory is read into memory (names
 * and offsets), never the member data, so archives of any size work. Keep one open while
 * extracting many entries, then `close()` it.
 */
export class ZipArchive {
  readonly #zip: ZipFile;
  readonly #byPath: Map<string, { info: ZipEntryInfo; entry: Entry }>;
  /** File entries (no folders, no symlinks), sorted by `path` in byte order. */
  readonly entries: readonly ZipEntryInfo[];

  private constructor(zip: ZipFile, entries: { info: ZipEntryInfo; entry: Entry }[]) {
    this.#zip = zip;
    entries.sort((a, b) => compareUtf8(a.info.path, b.info.path));
    this.entries = entries.map((e) => e.info);
    this.#byPath = new Map();
    for (const e of entries) if (!this.#byPath.has(e.info.path)) this.#byPath.set(e.info.path, e); // first of duplicates wins
  }

  static async open(file: string): Promise<ZipArchive> {
    return ZipArchive.#fromZip(await yauzl.openPromise(file, OPEN_OPTIONS));
  }

  /** The same over any yauzl reader of a `size`-byte archive (sources/bundle/ reads zips over HTTP Range). */
  static async fromReader(reader: RandomAccessReader, size: number): Promise<ZipArchive> {
    return ZipArchive.#fromZip(await yauzl.fromRandomAccessReaderPromise(reader, size, OPEN_OPTIONS));
  }

  static async #fromZip(zip: ZipFile): Promise<ZipArchive> {
    try {
      return new ZipArchive(zip, await readCentralDirectory(zip));
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  /** The file entry whose normalised path is `path`. */
  find(path: string): ZipEntryInfo | undefined {
    return this.#byPath.get(path)?.info;
  }

  /**
   * Streams one entry's uncompressed bytes into `dest` (a path the caller chose: the entry's own
   * name never reaches the file system, so hostile names cannot write elsewhere). Fails with
   * `too_large` as soon as more than `maxBytes` arrive, with `decode_error` for data that cannot be
   * decompressed; `dest` is removed on any failure. Returns the number of bytes written.
   */
  async extract(path: string, dest: string, limits: { maxBytes: number }): Promise<number> {
    const found = this.#byPath.get(path);
    if (!found) throw new ClipError('missing_file', `no entry "${path}" in the zip archive`);
    const { entry, info } = found;
    if (info.size > limits.maxBytes) {
      throw new ClipError('too_large', `zip entry "${info.name}" is ${info.size} bytes uncompressed, over the ${limits.maxBytes}-byte limit`);
    }
    if (!entry.canDecodeFileData()) {
      const why = entry.isEncrypted() ? 'is encrypted' : `uses unsupported compression method ${entry.compressionMethod}`;
      throw new ClipError('decode_error', `zip entry "${info.name}" ${why}`);
    }
    let written = 0;
    try {
      const input = await this.#zip.openReadStreamPromise(entry);
      // The declared size is checked above, but the data is what counts: a lying header must not fill the disk.
      const cap = async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          written += chunk.length;
          if (written > limits.maxBytes) {
            throw new ClipError('too_large', `zip entry "${info.name}" inflates past the ${limits.maxBytes}-byte limit`);
          }
          yield chunk;
        }
      };
      await pipeline(input, cap, createWriteStream(dest, { flags: 'wx' }));
      return written;
    } catch (error) {
      await rm(dest, { force: true });
      throw asEntryError(error, info.name);
    }
  }

  close(): void {
    this.#zip.close();
  }
}

function readCentralDirectory(zip: ZipFile): Promise<{ info: ZipEntryInfo; entry: Entry }[]> {
  return new Promise((resolve, reject) => {
    const entries: { info: ZipEntryInfo; entry: Entry }[] = [];
    zip.on('error', reject);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: Entry) => {
      try {
        const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
        const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
        // Folder entries carry no data; symlink entries hold a link target, not audio.
        if (!name.endsWith('/') && mode !== S_IFLNK) {
          entries.push({
            info: { name, path: normaliseCollectionPath(name), size: entry.uncompressedSize, compressedSize: entry.compressedSize },
            entry,
          });
        }
        zip.readEntry();
      } catch (error) {
        reject(error as Error);
      }
    });
    zip.readEntry();
  });
}

/**
 * Corrupt member data is permanent (a `ClipError`); system errors (disk full, I/O) stay as they
 * are so the job is retried.
 */
function asEntryError(error: unknown, name: string): unknown {
  if (error instanceof ClipError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const corrupt = code === undefined || code.startsWith('Z_') || code.startsWith('ERR_ZLIB');
  return corrupt ? new ClipError('decode_error', `zip entry "${name}" could not be read: ${(error as Error).message}`) : error;
}
