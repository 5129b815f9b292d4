import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpStatusError, safeUrl, TooLargeError, type HttpClient, type HttpResponse } from '../../infra/http/index.ts';
import { log } from '../../infra/log.ts';
import { ClipError } from '../../schemas/failure.ts';
import { parseContentRange, RangeTransferError, type RangeTransport } from './range-reader.ts';

// The end of a zip: its end-of-central-directory record (22 bytes) plus the longest comment.
export const ZIP_TAIL_BYTES = 22 + 0xffff;

/** What a first Range request for the archive's tail says about the server and the archive. */
export type ZipProbe =
  | { kind: 'ranges'; total: number; tail: { start: number; data: Buffer } }
  | { kind: 'no-ranges' }
  | { kind: 'opted-out'; directives: string[] };

/** A listing page (or the answer already fetched for it): the final URL and HTML; null when the folder is to be skipped. */
export async function fetchListingPage(client: HttpClient, url: string, fetched?: HttpResponse): Promise<{ url: string; html: string } | null> {
  const response = fetched ?? (await client.request(url, { maxBytes: 32 * 1024 ** 2 }));
  if (response.robots.excluded) {
    await client.count('robots_excluded');
    log.warn('listing page opts out of ML use (X-Robots-Tag); its folder is skipped', { provider: client.provider, url: safeUrl(url), directives: response.robots.directives });
    return null;
  }
  if (response.status === 200) return { url: response.url, html: response.text() };
  // A sub-folder the server will not list (403 on a mirror's private folder) costs its files, not the crawl.
  if (response.status === 403 || response.status === 404 || response.status === 410) {
    log.warn('listing page not available; its folder is skipped', { provider: client.provider, url: safeUrl(url), status: response.status });
    return null;
  }
  throw new Error(`${client.provider}: listing page answered HTTP ${response.status}`);
}

/**
 * Asks for the last 64 KiB of the archive with a suffix Range: a 206 gives the total size and the
 * central directory's end in one request. A server that ignores Range answers 200 with the whole
 * archive, which the size cap refuses before a byte of it is read (`TooLargeError`) — unless the
 * whole archive is that small, when it is simply the tail.
 */
export async function probeZip(client: HttpClient, url: string): Promise<ZipProbe> {
  let response;
  try {
    response = await client.request(url, { headers: { range: `bytes=-${ZIP_TAIL_BYTES}` }, maxBytes: ZIP_TAIL_BYTES });
  } catch (error) {
    if (error instanceof TooLargeError) return { kind: 'no-ranges' };
    throw error;
  }
  if (response.robots.excluded) {
    await client.count('robots_excluded');
    return { kind: 'opted-out', directives: response.robots.directives };
  }
  if (response.status === 200) return { kind: 'ranges', total: response.body.length, tail: { start: 0, data: response.body } };
  if (response.status === 206) {
    const range = parseContentRange(headerValue(response.headers['content-range']));
    if (range === null || range.end !== range.total || response.body.length !== range.end - range.start) {
      throw new RangeTransferError(`${client.provider}: the archive's tail came back as ${String(response.headers['content-range'])} with ${response.body.length} bytes`);
    }
    return { kind: 'ranges', total: range.total, tail: { start: range.start, data: response.body } };
  }
  if (response.status === 416) throw new Error(`${client.provider}: the archive is empty (HTTP 416 for its last bytes)`);
  throw new Error(`${client.provider}: the archive answered HTTP ${response.status}`);
}

/**
 * Range requests through the polite client. Small reads are buffered requests checked against
 * their Content-Range. Member data, which may be hundreds of MB, is downloaded into a scratch file
 * (the client only streams to files) and read back from there, so memory stays flat; the client
 * retries bodies cut short.
 */
export function httpRangeTransport(client: HttpClient, url: string, total: number, scratchDir: string): RangeTransport {
  return {
    async bytes(start, end) {
      let response;
      try {
        response = await client.request(url, { headers: { range: `bytes=${start}-${end - 1}` }, maxBytes: end - start });
      } catch (error) {
        if (error instanceof TooLargeError) throw new RangeTransferError(`${client.provider}: the server stopped honouring Range requests`);
        throw error;
      }
      if (response.status !== 206) throw new RangeTransferError(`${client.provider}: HTTP ${response.status} for bytes ${start}-${end - 1}`);
      const range = parseContentRange(headerValue(response.headers['content-range']));
      if (range === null || range.start !== start || range.end !== end || range.total !== total) {
        throw new RangeTransferError(`${client.provider}: asked for bytes ${start}-${end - 1} of ${total}, got ${String(response.headers['content-range'])} (did the archive change?)`);
      }
      return response.body;
    },
    stream(start, end) {
      const out = new PassThrough();
      const file = join(scratchDir, `range-${randomUUID()}`);
      const run = async () => {
        await mkdir(scratchDir, { recursive: true });
        try {
          const result = await client.download(url, file, { maxBytes: end - start, headers: { range: `bytes=${start}-${end - 1}` } });
          if (result.bytes !== end - start) throw new RangeTransferError(`${client.provider}: bytes ${start}-${end - 1}: got ${result.bytes} bytes`);
          await pipeline(createReadStream(file), out);
        } finally {
          await rm(file, { force: true });
        }
      };
      run().catch((error: unknown) => out.destroy(rangeError(client, error, start, end) as Error));
      return out;
    },
  };
}

/** Downloads a listing file (or a whole archive) under the cap; 404/410 mean the file is missing. */
export async function downloadFile(client: HttpClient, url: string, dest: string, maxBytes: number): Promise<number> {
  try {
    return (await client.download(url, dest, { maxBytes })).bytes;
  } catch (error) {
    if (error instanceof HttpStatusError && (error.status === 404 || error.status === 410)) {
      throw new ClipError('missing_file', error.message);
    }
    throw error;
  }
}

function rangeError(client: HttpClient, error: unknown, start: number, end: number): unknown {
  // The cap is the range's own length: going over it means the server sent more than the range (it ignored Range).
  if (error instanceof TooLargeError) return new RangeTransferError(`${client.provider}: bytes ${start}-${end - 1}: the server stopped honouring Range requests`);
  // A status for the archive (gone, forbidden) is the archive's trouble, not this member's: transient, like bytes().
  if (error instanceof HttpStatusError) return new RangeTransferError(`${client.provider}: HTTP ${error.status} for bytes ${start}-${end - 1} of the archive`);
  return error;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
