import { randomUUID } from 'node:crypto';
import { mkdir, realpath, rm, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { LocalSourceSpec } from '../../schemas/source-spec.ts';
import type { LocalAudio, Source } from '../source.ts';
import { isAudioPath } from './audio-files.ts';
import { captionFromPath, tagsFromPath } from './captions.ts';
import { formatLocator, invalidRowLocator, parseLocator, type LocatorKind } from './locator.ts';
import { readManifest, type ManifestRow } from './manifest.ts';
import { isInsideCollection, isWithin, normaliseCollectionPath } from './paths.ts';
import { walkAudioFiles } from './walk.ts';
import { acquireZip } from './zip-cache.ts';

type RootKind = 'folder' | 'zip';

const LOCATOR_KIND: Record<RootKind, LocatorKind> = { folder: 'file', zip: 'zip' };

// errno codes meaning "no such file here" rather than trouble with the host.
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/**
 * A folder or zip archive of audio files, optionally described by a CSV/JSONL manifest. Without
 * a manifest every audio file is a clip, captioned and tagged from its path (LAION's rule for the
 * purchased bundles); with one, each manifest row is a clip, in manifest order.
 */
export class LocalSource implements Source {
  readonly name: string;
  readonly #spec: LocalSourceSpec;
  readonly #root: string;
  #kind: Promise<RootKind> | undefined;
  #realRoot: Promise<string> | undefined;

  constructor(spec: LocalSourceSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.#root = resolve(spec.root);
  }

  async *records(): AsyncGenerator<ClipRecord> {
    const kind = await this.#rootKind();
    if (this.#spec.manifest !== undefined) yield* this.#manifestRecords(kind, this.#spec.manifest);
    else if (kind === 'folder') {
      for await (const file of walkAudioFiles(this.#root)) yield this.#pathRecord('folder', file.path, { path: file.path, size: file.size });
    } else {
      const { archive, release } = await acquireZip(this.#root);
      try {
        for (const entry of archive.entries) {
          if (isAudioPath(entry.path)) yield this.#pathRecord('zip', entry.path, { path: entry.path, size: entry.size });
        }
      } finally {
        release();
      }
    }
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    const locator = parseLocator(record.audio);
    if (locator === null) {
      throw new ClipError('invalid_record', `unrecognised audio locator "${record.audio}" (expected file:<path> or zip:<path>)`);
    }
    const path = normaliseCollectionPath(locator.path);
    if (!isInsideCollection(path)) {
      throw new ClipError('path_outside_collection', `"${locator.path}" points outside the collection (source ${this.name})`);
    }
    const kind = await this.#rootKind();
    if (locator.kind !== LOCATOR_KIND[kind]) {
      throw new ClipError('invalid_record', `locator "${record.audio}" is for a ${locator.kind} but source ${this.name}'s root is a ${kind}`);
    }
    return kind === 'folder' ? this.#openFile(path, limits) : this.#extractEntry(path, workDir, limits);
  }

  async *#manifestRecords(kind: RootKind, manifest: string): AsyncGenerator<ClipRecord> {
    for await (const row of readManifest(manifest)) {
      if (!row.ok) {
        yield {
          source: this.name,
          id: `manifest-line-${row.line}`,
          audio: invalidRowLocator(row.line),
          text: [],
          tags: [],
          license: this.#spec.license ?? null,
          original: { manifest_line: row.line, row: row.raw },
          invalid: row.invalid,
        };
        continue;
      }
      yield this.#rowRecord(kind, row);
    }
  }

  #rowRecord(kind: RootKind, row: ManifestRow): ClipRecord {
    const path = this.#collectionPath(kind, row.file);
    const record = this.#pathRecord(kind, path, { ...row.extra, manifest_line: row.line });
    if (row.captions.length > 0) record.text = row.captions;
    if (row.tags.length > 0) record.tags = row.tags;
    if (row.license !== null) record.license = row.license;
    return record;
  }

  #pathRecord(kind: RootKind, path: string, original: Record<string, unknown>): ClipRecord {
    const caption = captionFromPath(path);
    return {
      source: this.name,
      id: path,
      audio: formatLocator(LOCATOR_KIND[kind], path),
      text: caption === '' ? [] : [caption],
      tags: tagsFromPath(path),
      license: this.#spec.license ?? null,
      original,
      ...(typeof original.size === 'number' ? { bytes: original.size } : {}),
    };
  }

  /** A manifest path as a collection path; absolute host paths under a folder root are accepted. */
  #collectionPath(kind: RootKind, file: string): string {
    if (kind === 'folder' && isAbsolute(file) && isWithin(this.#root, resolve(file))) {
      return normaliseCollectionPath(relative(this.#root, resolve(file)).split(sep).join('/'));
    }
    return normaliseCollectionPath(file);
  }

  /** Folder roots: the file itself, checked, never copied. */
  async #openFile(path: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    const root = await this.#resolvedRoot();
    let real: string;
    try {
      real = await realpath(join(root, path));
    } catch (error) {
      throw asMissing(error, `"${path}" not found under ${this.#root}`);
    }
    // The lexical check in materialise() cannot see symlinks; the resolved path must stay inside too.
    if (!isWithin(root, real)) {
      throw new ClipError('path_outside_collection', `"${path}" resolves through a symlink to outside the collection (source ${this.name})`);
    }
    const info = await stat(real).catch((error: unknown) => {
      throw asMissing(error, `"${path}" not found under ${this.#root}`);
    });
    if (!info.isFile()) throw new ClipError('missing_file', `"${path}" under ${this.#root} is not a regular file`);
    checkSize(path, info.size, limits.maxBytes);
    return { path: real, release: async () => {} };
  }

  /** Zip roots: the entry streamed into a work-dir file named by us, deleted on release. */
  async #extractEntry(path: string, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    const { archive, release } = await acquireZip(this.#root);
    try {
      const entry = archive.find(path);
      if (entry === undefined) throw new ClipError('missing_file', `"${path}" not found in ${this.#root}`);
      checkSize(path, entry.size, limits.maxBytes);
      await mkdir(workDir, { recursive: true });
      const dest = join(workDir, `${randomUUID()}${safeExtension(path)}`);
      const written = await archive.extract(path, dest, limits);
      const cleanup = () => rm(dest, { force: true });
      if (written === 0) {
        await cleanup();
        throw new ClipError('empty_file', `"${path}" in ${this.#root} is empty`);
      }
      return { path: dest, release: cleanup };
    } finally {
      release();
    }
  }

  // A missing or unreadable root is trouble with this host (an absent mount), not with a clip:
  // these throw plain errors so the job is retried rather than every clip failing for good.
  #rootKind(): Promise<RootKind> {
    this.#kind ??= stat(this.#root).then(
      (info) => {
        if (info.isDirectory()) return 'folder';
        if (info.isFile()) return 'zip';
        throw new Error(`source ${this.name}: root ${this.#root} is neither a folder nor a zip file`);
      },
      (error: unknown) => {
        this.#kind = undefined; // the mount may appear later: ask again next time
        throw new Error(`source ${this.name}: cannot read root ${this.#root}: ${(error as Error).message}`, { cause: error });
      },
    );
    return this.#kind;
  }

  #resolvedRoot(): Promise<string> {
    this.#realRoot ??= realpath(this.#root).catch((error: unknown) => {
      this.#realRoot = undefined;
      throw error;
    });
    return this.#realRoot;
  }
}

export function createLocalSource(spec: LocalSourceSpec): LocalSource {
  return new LocalSource(spec);
}

function checkSize(path: string, size: number, maxBytes: number): void {
  if (size === 0) throw new ClipError('empty_file', `"${path}" is empty (0 bytes)`);
  if (size > maxBytes) throw new ClipError('too_large', `"${path}" is ${size} bytes, over the ${maxBytes}-byte limit`);
}

function asMissing(error: unknown, message: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && MISSING_CODES.has(code) ? new ClipError('missing_file', message) : error;
}

/** The entry's extension when it is plain (it helps ffmpeg pick a demuxer); never any of its path. */
function safeExtension(path: string): string {
  const ext = extname(path);
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : '';
}
