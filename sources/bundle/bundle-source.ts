import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createHttpClient, OptedOutError, safeUrl, type HttpClient, type HttpPolicy } from '../../infra/http/index.ts';
import { log } from '../../infra/log.ts';
import type { ClipRecord } from '../../schemas/clip.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { BundleProvider, BundleSourceSpec } from '../../schemas/source-spec.ts';
import { isAudioPath } from '../local/audio-files.ts';
import { captionFromPath, tagsFromPath } from '../local/captions.ts';
import { createLocalSource, type LocalSource } from '../local/local-source.ts';
import { formatLocator, parseLocator } from '../local/locator.ts';
import { isInsideCollection, normaliseCollectionPath } from '../local/paths.ts';
import { type LocalAudio, type Source, requireContext, type SourceContext } from '../source.ts';
import { downloadFile, fetchListingPage } from './http-transport.ts';
import { crawlListing } from './listing-crawl.ts';
import { checkFirstRecords, checkPage, type PageCheck } from '../first-page.ts';
import { bundleLocation, type BundleLocation } from './location.ts';
import { decodedCollectionPath, formatUrlLocator, listingFileUrl, parseUrlLocator } from './locator.ts';
import { bundlePolicy } from './policy.ts';
import { BUNDLE_PROVIDER_INFO } from './providers.ts';
import { acquireRemoteZip } from './remote-zip.ts';

export interface BundleSourceOptions {
  /** Adjusts the HTTP policy (retries, backoff, timeouts); the spec sets hosts and rate. */
  policy?: Partial<HttpPolicy>;
  /** Scratch and whole-archive cache space; default CLAPSET_WORK_DIR, else <tmp>/clapset-work. */
  workRoot?: string;
}

const DEFAULT_MAX_ARCHIVE_BYTES = 16 * 1024 ** 3;

/**
 * A purchased sound-effect bundle (Sonniss, Free To Use Sounds, We Sound Effects, Odeon): every
 * audio file is a clip captioned with its file name and tagged with its folders (LAION's rule for
 * these bundles), under the bundle's licence. Four places it can be: a local folder or zip (read by
 * the `local` adapter, unchanged), a zip URL (read with Range requests: the central directory, then
 * one member at a time) or a web-server directory listing (crawled folder by folder). Records come
 * in byte order of their path in every case, so shards are the same on every run.
 */
export class BundleSource implements Source {
  readonly name: string;
  readonly provider: BundleProvider;
  readonly license: string;
  readonly location: BundleLocation;
  readonly #spec: BundleSourceSpec;
  readonly #local: LocalSource | undefined;
  readonly #client: HttpClient | undefined;
  readonly #workRoot: string;

  constructor(spec: BundleSourceSpec, context?: SourceContext, options: BundleSourceOptions = {}) {
    this.#spec = spec;
    this.name = spec.name;
    this.provider = spec.type;
    this.license = spec.license ?? BUNDLE_PROVIDER_INFO[spec.type].defaultLicense;
    this.location = bundleLocation(spec);
    this.#workRoot = options.workRoot ?? context?.workDir ?? configFromEnv(context?.env).workDir;
    if (this.location.kind === 'local') {
      this.#local = createLocalSource({ type: 'local', name: spec.name, root: this.location.path, license: this.license });
    } else {
      const { redis, prefix } = requireContext(spec, context);
      this.#client = createHttpClient({ redis, prefix, policy: bundlePolicy(spec, this.location.url, options.policy) });
    }
  }

  /**
   * Every clip of the bundle. With `rule: laion`, as LAION built these subsets: WAV files only, the
   * caption the file name without its extension exactly as written (clapset's default takes every
   * audio type and turns `_` into spaces); folder tags are kept either way.
   */
  async *records(): AsyncGenerator<ClipRecord> {
    if (this.#spec.rule === 'clapset') return yield* this.#listed();
    for await (const record of this.#listed()) {
      const name = record.id.split('/').at(-1) ?? '';
      if (!/\.wav$/i.test(name)) continue;
      const caption = name.slice(0, -'.wav'.length).trim();
      yield { ...record, text: caption === '' ? [] : [caption] };
    }
  }

  async *#listed(): AsyncGenerator<ClipRecord> {
    const location = this.location;
    if (location.kind === 'local') {
      yield* this.#local!.records();
    } else if (location.kind === 'zip-url') {
      let held;
      try {
        held = await this.#remoteZip(location.url);
      } catch (error) {
        if (!(error instanceof OptedOutError)) throw error;
        log.warn('the bundle archive opts out of ML use (X-Robots-Tag); no clips are listed', { source: this.name, url: safeUrl(location.url) });
        return;
      }
      try {
        for (const entry of held.archive.entries) {
          if (isAudioPath(entry.path)) yield this.#record(entry.path, formatLocator('zip', entry.path), { path: entry.path, size: entry.size }, entry.size);
        }
      } finally {
        held.release();
      }
    } else {
      const client = this.#client!;
      // The root page must be a listing: a refused, missing or challenged root, or one that lists no
      // audio at all, is an error (first-page.ts), where a sub-folder's 403/404 only costs its files.
      const check: PageCheck = {
        provider: client.provider,
        format: 'html',
        whenRefused: 'the server refused to list the bundle; check root and that the mirror allows listing',
        whenMissing: `check root (${safeUrl(location.url)}): it must be a directory listing (Apache/nginx autoindex) of the bundle's audio files`,
      };
      let listed = 0;
      let optedOut = false;
      const fetchPage = async (url: string) => {
        if (url !== location.url) return fetchListingPage(client, url);
        const response = await client.request(url, { maxBytes: 32 * 1024 ** 2 });
        checkPage(response, url, check, true);
        optedOut = response.robots.excluded; // an opt-out honoured (and counted), not an empty success
        return fetchListingPage(client, url, response);
      };
      for await (const file of crawlListing(location.url, fetchPage)) {
        const path = normaliseCollectionPath(file.path);
        listed++;
        yield this.#record(path, formatUrlLocator(file.encodedPath), { path }, undefined);
      }
      if (listed === 0 && !optedOut) checkFirstRecords(check, location.url, [], null);
    }
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    const location = this.location;
    if (location.kind === 'local') return this.#local!.materialise(record, workDir, limits);
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    return location.kind === 'zip-url' ? this.#zipMember(location.url, record, workDir, limits) : this.#listingFile(location.url, record, workDir, limits);
  }

  #record(path: string, audio: string, original: Record<string, unknown>, bytes: number | undefined): ClipRecord {
    const caption = captionFromPath(path);
    return {
      source: this.name,
      id: path,
      audio,
      text: caption === '' ? [] : [caption],
      tags: tagsFromPath(path),
      license: this.license,
      original,
      ...(bytes === undefined ? {} : { bytes }),
    };
  }

  async #zipMember(url: string, record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    const locator = parseLocator(record.audio);
    if (locator === null || locator.kind !== 'zip') {
      throw new ClipError('invalid_record', `locator "${record.audio}" is not a zip entry, but source ${this.name} is a zip archive`);
    }
    const path = normaliseCollectionPath(locator.path);
    if (!isInsideCollection(path)) throw new ClipError('path_outside_collection', `"${locator.path}" points outside the bundle (source ${this.name})`);
    const held = await this.#remoteZip(url);
    try {
      const entry = held.archive.find(path);
      if (entry === undefined) throw new ClipError('missing_file', `"${path}" not found in the archive of source ${this.name}`);
      checkSize(path, entry.size, limits.maxBytes);
      await mkdir(workDir, { recursive: true });
      const dest = join(workDir, `${randomUUID()}${safeExtension(path)}`);
      const written = await held.archive.extract(path, dest, limits);
      const release = () => rm(dest, { force: true });
      if (written === 0) {
        await release();
        throw new ClipError('empty_file', `"${path}" in the archive of source ${this.name} is empty`);
      }
      return { path: dest, release };
    } finally {
      held.release();
    }
  }

  async #listingFile(rootUrl: string, record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    const encoded = parseUrlLocator(record.audio);
    if (encoded === null) throw new ClipError('invalid_record', `locator "${record.audio}" is not a listing file (url:<path>) of source ${this.name}`);
    const url = listingFileUrl(rootUrl, encoded);
    if (url === null) throw new ClipError('path_outside_collection', `"${decodedCollectionPath(encoded)}" points outside the listing (source ${this.name})`);
    await mkdir(workDir, { recursive: true });
    const dest = join(workDir, `${randomUUID()}${safeExtension(decodedCollectionPath(encoded))}`);
    await downloadFile(this.#client!, url, dest, limits.maxBytes);
    return { path: dest, release: () => rm(dest, { force: true }) };
  }

  #remoteZip(url: string) {
    return acquireRemoteZip(this.#client!, url, {
      scratchDir: join(this.#workRoot, 'bundle-ranges'),
      cacheDir: join(this.#workRoot, 'bundle-archives'),
      maxArchiveBytes: this.#spec.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE_BYTES,
    });
  }
}

export function createBundleSource(spec: BundleSourceSpec, context?: SourceContext, options?: BundleSourceOptions): BundleSource {
  return new BundleSource(spec, context, options);
}

function checkSize(path: string, size: number, maxBytes: number): void {
  if (size === 0) throw new ClipError('empty_file', `"${path}" is empty (0 bytes)`);
  if (size > maxBytes) throw new ClipError('too_large', `"${path}" is ${size} bytes, over the ${maxBytes}-byte limit`);
}

/** The member's extension when it is plain (it helps ffmpeg pick a demuxer); never any of its path. */
function safeExtension(path: string): string {
  const ext = extname(path);
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : '';
}
