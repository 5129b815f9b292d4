/**
 * `clapset probe`: the check an operator runs before a crawl (and a dashboard every few hours) —
 * a handful of polite requests through the source's own rate-limited client: the first listing page
 * (the adapter's first-page checks: reachable, authorised, format as expected), the provider's
 * total when it states one, and one media request for the first usable record with a Range of a few
 * KB (reachable, audio). Every problem is named; `ok` is false on any of them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetriesExhaustedError, TooLargeError } from '../infra/http/errors.ts';
import type { HttpClient } from '../infra/http/client.ts';
import { safeUrl, scrub } from '../infra/http/scrub.ts';
import type { ClipRecord } from '../schemas/clip.ts';
import { ProviderError } from './first-page.ts';
import type { Source } from './source.ts';

export interface ProbeReport {
  source: string;
  ok: boolean;
  /** The provider answered (any HTTP status). */
  reachable: boolean;
  /** Not refused (401/403) nor challenged. */
  authorised: boolean;
  /** The first page had the expected shape and listed usable records. */
  format: boolean;
  /** The first record's audio answered a Range request with audio bytes; null when not reached. */
  media: boolean | null;
  /** What the provider says it holds (Freesound `count`, BBC rows or `total`, Epidemic `totalTracks`). */
  total: number | null;
  /** The first record's id and audio URL (credentials scrubbed). */
  sample: { id: string; audio: string } | null;
  problems: string[];
}

export interface MediaCheck {
  status: number;
  contentType: string | null;
  /** Bytes received (at most the Range asked for, unless the server ignored it). */
  bytes: number;
  /** The first bytes are an audio container's magic (RIFF, ID3/MPEG, OggS, fLaC, FORM, ftyp); null when none were read. */
  audio: boolean | null;
  /** The server answered 200 with the whole file instead of 206. */
  rangeIgnored: boolean;
}

/** Remote adapters: the provider's stated total and a Range request on a record's audio. */
export interface Probeable {
  readonly total: number | null;
  probeMedia(record: ClipRecord): Promise<MediaCheck>;
}

function isProbeable(source: Source): source is Source & Probeable {
  return typeof (source as Partial<Probeable>).probeMedia === 'function';
}

export const PROBE_RANGE_BYTES = 4096;

/** Audio container magic at the start of a file. */
export function looksLikeAudio(head: Buffer): boolean {
  const ascii = head.subarray(0, 4).toString('latin1');
  if (['RIFF', 'OggS', 'fLaC', 'FORM', 'ID3'].some((m) => ascii.startsWith(m))) return true;
  if (head.length >= 2 && head[0] === 0xff && (head[1]! & 0xe0) === 0xe0) return true; // MPEG frame sync
  return head.subarray(4, 8).toString('latin1') === 'ftyp'; // MP4/M4A
}

/** One GET of the first few KB of `url` through the provider's client (redirects checked as for downloads). */
export async function probeMediaWith(client: HttpClient, url: string, headers: Record<string, string> = {}): Promise<MediaCheck> {
  try {
    const response = await client.request(url, { headers: { ...headers, range: `bytes=0-${PROBE_RANGE_BYTES - 1}` }, maxBytes: 1024 * 1024 });
    const contentType = response.headers['content-type'] ?? null;
    return { status: response.status, contentType, bytes: response.body.length, audio: looksLikeAudio(response.body), rangeIgnored: response.status === 200 };
  } catch (error) {
    // A server that ignores Range and announces a large file: reachable, not ranged, its bytes unseen.
    if (error instanceof TooLargeError) return { status: 200, contentType: null, bytes: 0, audio: null, rangeIgnored: true };
    throw error;
  }
}

/** Probes `source`: its first record (first page checks), its total, one ranged media request. */
export async function probeSource(source: Source): Promise<ProbeReport> {
  const report: ProbeReport = { source: source.name, ok: false, reachable: true, authorised: true, format: true, media: null, total: null, sample: null, problems: [] };
  let record: ClipRecord | undefined;
  try {
    for await (const listed of source.records()) {
      if (listed.invalid !== undefined) continue;
      record = listed;
      break;
    }
    if (record === undefined) {
      report.format = false;
      report.problems.push('the listing has no usable record');
    }
  } catch (error) {
    listingProblem(report, error);
  }
  if (isProbeable(source)) report.total = source.total;
  if (record !== undefined) {
    report.sample = { id: record.id, audio: safeUrl(record.audio) };
    await probeMedia(source, record, report);
  }
  report.ok = report.problems.length === 0;
  return report;
}

function listingProblem(report: ProbeReport, error: unknown): void {
  const message = scrub(error instanceof Error ? error.message : String(error));
  report.problems.push(`listing: ${message}`);
  // Network trouble past the client's retries; other errors (a missing credential) are named only.
  if (error instanceof RetriesExhaustedError) report.reachable = false;
  if (!(error instanceof ProviderError)) return;
  if (error.problem === 'unreachable') report.reachable = false;
  else if (error.problem === 'unauthorised') report.authorised = false;
  else report.format = false;
}

async function probeMedia(source: Source, record: ClipRecord, report: ProbeReport): Promise<void> {
  const where = safeUrl(record.audio);
  try {
    if (!isProbeable(source)) {
      // Local files and bundles: make the first clip readable the way a worker would, then let go.
      const dir = await mkdtemp(join(tmpdir(), 'clapset-probe-'));
      try {
        await (await source.materialise(record, dir, { maxBytes: 256 * 1024 * 1024 })).release();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      report.media = true;
      return;
    }
    const check = await source.probeMedia(record);
    const problem =
      check.status !== 200 && check.status !== 206
        ? `media: ${where} answered HTTP ${check.status}`
        : check.audio === false
          ? `media: ${where} answered ${check.contentType ?? 'no content-type'}, and its first bytes are not audio`
          : null;
    report.media = problem === null;
    if (problem !== null) report.problems.push(problem);
  } catch (error) {
    report.media = false;
    report.problems.push(`media: ${scrub(error instanceof Error ? error.message : String(error))}`);
  }
}
