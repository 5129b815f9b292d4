/**
 * Never an empty success: the checks every remote adapter runs on what a provider answers, so a
 * login wall, a bot challenge, a missing first page, HTML where JSON was expected, a CSV without its
 * header or a page whose records lack the fields we read ends the crawl with an error that names
 * the provider, the URL (credentials scrubbed), the status and what to do — instead of a crawl of
 * zero clips that exits 0. `ProviderError.problem` also feeds `clapset probe`.
 */
import type { HttpResponse } from '../infra/http/client.ts';
import { safeUrl, scrub } from '../infra/http/scrub.ts';
import type { ClipRecord } from '../schemas/clip.ts';

/** What kind of drift: which probe column it fails. */
export type ProviderProblem = 'unauthorised' | 'missing' | 'format' | 'empty' | 'unreachable';

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly url: string,
    readonly status: number | null,
    readonly problem: ProviderProblem,
    message: string,
  ) {
    super(scrub(message));
    this.name = 'ProviderError';
  }
}

export type PageFormat = 'json' | 'html' | 'csv';

/** How to read one provider's answers, and what to tell the operator when they are wrong. */
export interface PageCheck {
  provider: string;
  format: PageFormat;
  /** What to do on 401/403/challenge (e.g. which variable to set). */
  whenRefused: string;
  /** What to do when the first page is missing (404/410) or lists nothing. */
  whenMissing: string;
}

/** Cloudflare and similar: the page a bot gets instead of the content. */
export function isChallenge(response: Pick<HttpResponse, 'headers' | 'text'>): boolean {
  if (response.headers['cf-mitigated'] === 'challenge') return true;
  const head = response.text().slice(0, 4096);
  return /<title>\s*(Just a moment\.\.\.|Attention Required!)|\/cdn-cgi\/challenge-platform\//i.test(head);
}

function looksLikeHtml(response: Pick<HttpResponse, 'headers' | 'body'>): boolean {
  const type = String(response.headers['content-type'] ?? '');
  if (/text\/html|application\/xhtml/i.test(type)) return true;
  return /^\s*<(!doctype|html|head|body)/i.test(response.body.subarray(0, 256).toString('utf8').replace(/^\uFEFF/, ''));
}

function describe(format: PageFormat): string {
  return format === 'json' ? 'JSON' : format === 'csv' ? 'a CSV index' : 'an HTML listing';
}

/**
 * Throws a `ProviderError` unless `response` is a usable page: 401/403 (or a challenge page) are
 * refusals on every page; 404/410 are errors on the first page only (later, the provider's way of
 * saying "no more pages": the caller handles it); any other non-200 is an error; a 200 must be of
 * the expected format (JSON that parses, a CSV rather than an HTML sign-in page). Returns the
 * parsed body for `json` (null for a later page's 404), undefined for the other formats.
 */
export function checkPage(response: HttpResponse, url: string | URL, check: PageCheck, first: boolean): unknown {
  const where = `${check.provider}: ${safeUrl(url)}`;
  const fail = (problem: ProviderProblem, text: string): never => {
    throw new ProviderError(check.provider, safeUrl(url), response.status, problem, `${where} ${text}`);
  };
  const status = response.status;
  if (status === 401 || status === 403 || (status === 200 && looksLikeHtml(response) && isChallenge(response))) {
    const what = isChallenge(response) ? 'a bot challenge page' : 'a refusal';
    fail('unauthorised', `answered HTTP ${status} (${what}); ${check.whenRefused}`);
  }
  if ((status === 404 || status === 410) && first) fail('missing', `answered HTTP ${status} on the first page; ${check.whenMissing}`);
  if (status !== 200 && !(status === 404 || status === 410)) fail('unreachable', `answered HTTP ${status}`);
  if (status !== 200) return null;
  if (check.format !== 'html' && looksLikeHtml(response)) {
    fail('format', `answered HTTP 200 with HTML where ${describe(check.format)} was expected (a login page, a consent wall or a moved address?); ${check.whenRefused}`);
  }
  if (check.format !== 'json') return undefined;
  try {
    return JSON.parse(response.text());
  } catch {
    return fail('format', `answered HTTP 200 with a body that is not JSON (content-type ${String(response.headers['content-type'] ?? 'none')})`);
  }
}

/** A format error on a page whose shape is wrong (a field missing or renamed). */
export function formatError(check: Pick<PageCheck, 'provider'>, url: string | URL, problem: string): ProviderError {
  return new ProviderError(check.provider, safeUrl(url), 200, 'format', `${check.provider}: ${safeUrl(url)} answered in a format the adapter does not know: ${problem}`);
}

/**
 * The first page's records: none at all (where the provider promised `promised` > 0, or promised
 * nothing we can check) is `empty`; some listed but every one unusable (invalid: the fields we read
 * are missing or renamed) is `format`.
 */
export function checkFirstRecords(check: Pick<PageCheck, 'provider' | 'whenMissing'>, url: string | URL, records: readonly Pick<ClipRecord, 'invalid'>[], promised: number | null, unusable: string[] = []): void {
  const where = `${check.provider}: ${safeUrl(url)}`;
  const problems = [...unusable, ...records.flatMap((r) => (r.invalid === undefined ? [] : [r.invalid]))];
  if (records.length > 0 && problems.length < records.length + unusable.length) return;
  if (problems.length > 0) {
    throw new ProviderError(check.provider, safeUrl(url), 200, 'format', `${where}: none of the ${problems.length} listed items has the fields the adapter reads (first: ${problems[0]}); the provider's format changed`);
  }
  const said = promised === null ? '' : promised > 0 ? ` although it reports ${promised}` : ' (it reports 0)';
  throw new ProviderError(check.provider, safeUrl(url), 200, 'empty', `${where} listed no records on the first page${said}; ${check.whenMissing}`);
}
