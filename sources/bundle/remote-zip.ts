import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OptedOutError, safeUrl, TooLargeError, type HttpClient } from '../../infra/http/index.ts';
import { log } from '../../infra/log.ts';
import { SharedHandles } from '../../infra/shared-handles.ts';
import { ZipArchive } from '../local/zip-archive.ts';
import { httpRangeTransport, probeZip } from './http-transport.ts';
import { HttpRangeReader } from './range-reader.ts';

export interface RemoteZipOptions {
  /** Scratch space for member data in flight (removed as soon as it is read). */
  scratchDir: string;
  /** Where an archive from a server without Range support is downloaded whole, once per host. */
  cacheDir: string;
  /** Cap on such a download. */
  maxArchiveBytes: number;
}

export interface HeldArchive {
  archive: ZipArchive;
  release(): void;
}

// Reading a remote central directory costs requests, and each transcode job opens the source
// anew: keep it across the jobs of a busy worker, close it when the worker has moved on.
const IDLE_CLOSE_MS = 30_000;

const held = new SharedHandles<ZipArchive>((archive) => archive.close(), IDLE_CLOSE_MS);

/**
 * A remote zip opened for random access, shared by the sources of this process (one per URL). With
 * Range support only the central directory and then the members asked for are fetched. A server
 * without it (rare for static files: Apache, nginx, S3 and CDNs all have it) leaves no way to reach
 * a member but reading everything before it, so the archive is downloaded whole, streaming to
 * disk under `maxArchiveBytes`, once per host, and read as a local zip from then on.
 * Throws `OptedOutError` when the server marks the archive noai/noml.
 */
export async function acquireRemoteZip(client: HttpClient, url: string, options: RemoteZipOptions): Promise<HeldArchive> {
  const key = `${client.provider}\0${url}`;
  const handle = await held.acquire(key, () => openRemoteZip(client, url, options));
  return { archive: handle.value, release: handle.release };
}

async function openRemoteZip(client: HttpClient, url: string, options: RemoteZipOptions): Promise<ZipArchive> {
  const probe = await probeZip(client, url);
  if (probe.kind === 'opted-out') throw new OptedOutError(safeUrl(url), probe.directives);
  if (probe.kind === 'ranges') {
    const reader = new HttpRangeReader(httpRangeTransport(client, url, probe.total, options.scratchDir), probe.total, probe.tail);
    return ZipArchive.fromReader(reader, probe.total);
  }
  return ZipArchive.open(await downloadArchive(client, url, options));
}

/** The whole archive in the cache folder (a finished download is reused by every process on the host). */
async function downloadArchive(client: HttpClient, url: string, options: RemoteZipOptions): Promise<string> {
  const file = join(options.cacheDir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.zip`);
  if (await stat(file).then((s) => s.isFile() && s.size > 0, () => false)) return file;
  await mkdir(options.cacheDir, { recursive: true });
  const partial = `${file}.${randomUUID()}.part`;
  log.warn('the server ignores Range requests: downloading the whole archive once for this host', {
    provider: client.provider, cacheFile: file, maxBytes: options.maxArchiveBytes,
  });
  try {
    await client.download(url, partial, { maxBytes: options.maxArchiveBytes });
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    // Over the cap is a setting to change (or a reason to mirror it locally), not a clip's fault.
    if (error instanceof TooLargeError) {
      throw new Error(`${client.provider}: the archive is over maxArchiveBytes (${options.maxArchiveBytes}) and its server ignores Range requests: raise the cap or point root at a local copy (${error.message})`, { cause: error });
    }
    throw error;
  }
  return file;
}
