/**
 * Epidemic Sound's site JSON, the way LAION crawled it: per category,
 * `GET /json/search/sfx/?genres={Category}&order=desc&page=N` until `meta.totalPages`. Tracks come
 * as an object keyed by id (`entities.tracks`), whose key order is the server's business: each page
 * is read in id order so the crawl order is the same on every run. Audio: `stems.full.lqMp3Url`.
 * The site JSON now wants a logged-in session (Cookie, x-csrftoken, epidemic-workspace-id,
 * app-version; schemas/config.ts reads them from the environment) and Cloudflare challenges
 * anonymous clients: 401/403/challenge pages, HTML instead of JSON, a missing or empty first page
 * and tracks without the fields we read are errors saying so (first-page.ts), never an empty crawl.
 */
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import { epidemicSessionFromEnv } from '../../schemas/config.ts';
import type { EpidemicSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { checkFirstRecords, checkPage, formatError, type PageCheck } from '../first-page.ts';
import { providerClient } from '../provider-client.ts';
import { probeMediaWith, type MediaCheck, type Probeable } from '../probe.ts';
import { registerSecret } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { orderedTrackIds, recordFromTrack } from './records.ts';

/** The last yielded track: category index, page (from 1), position in the page's ordered ids. */
interface Cursor {
  category: number;
  page: number;
  index: number;
}

export class EpidemicSource implements ResumableSource, Probeable {
  readonly name: string;
  readonly #spec: EpidemicSourceSpec;
  readonly #client: HttpClient;
  readonly #headers: Record<string, string>;
  readonly #check: PageCheck;
  #total: number | null = null;

  constructor(spec: EpidemicSourceSpec, context: SourceContext) {
    this.#spec = spec;
    this.name = spec.name;
    this.#client = providerClient(context, { provider: 'epidemic', allowedHosts: [...hostsOf(spec.siteBase), ...spec.mediaHosts], rate: spec.rate });
    const session = epidemicSessionFromEnv(context.env ?? process.env);
    registerSecret(session?.cookie);
    registerSecret(session?.csrfToken);
    // Sent to the site only: downloads from the CDN carry none of it (and the client drops Cookie on a host change).
    this.#headers = {
      accept: 'application/json',
      ...(session ? { cookie: session.cookie } : {}),
      ...(session?.csrfToken ? { 'x-csrftoken': session.csrfToken } : {}),
      ...(session?.workspaceId ? { 'epidemic-workspace-id': session.workspaceId } : {}),
      ...(session?.appVersion ? { 'app-version': session.appVersion } : {}),
    };
    this.#check = {
      provider: 'epidemic',
      format: 'json',
      whenRefused:
        `the site JSON needs a logged-in session: ${session ? 'the one in EPIDEMIC_COOKIE was refused (expired?); copy a fresh one' : 'set EPIDEMIC_COOKIE'} ` +
        '(and EPIDEMIC_CSRF_TOKEN, EPIDEMIC_WORKSPACE_ID, EPIDEMIC_APP_VERSION) from a browser session of an account whose terms allow this; ' +
        'the official alternative is the Partner Content API (partner-content-api.epidemicsound.com, needs a partner agreement)',
      whenMissing: `check siteBase (${spec.siteBase}) and the category names in categories`,
    };
  }

  /** The provider's total for the first category, as its first page stated it (`meta.totalTracks`), when it does. */
  get total(): number | null {
    return this.#total;
  }

  async *records(cursor?: string): AsyncGenerator<ClipRecord> {
    for await (const item of this.crawl(cursor)) yield item.record;
  }

  async *crawl(cursor?: string): AsyncGenerator<CrawlItem> {
    const from = parseIntegerCursor('epidemic', cursor, { category: -Infinity, page: 1, index: -Infinity }, '{"category":c,"page":p,"index":i}');
    const options = { source: this.name, license: this.#spec.license };
    let yielded = 0;
    for (let category = from?.category ?? 0; category < this.#spec.categories.length; category++) {
      const name = this.#spec.categories[category]!;
      const resuming = from !== null && category === from.category;
      let page = resuming ? from.page : 1;
      let skipThrough = resuming ? from.index : -1;
      for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++, page++) {
        const first = from === null && category === 0 && pages === 0;
        const { url, totalPages, totalTracks, tracks } = await this.#page(name, page, pages === 0);
        if (first) this.#total = totalTracks;
        const listed = orderedTrackIds(tracks).flatMap((key, index) => {
          const track = tracks[key];
          return track === null || typeof track !== 'object' ? [] : [{ index, record: recordFromTrack(key, track as Record<string, unknown>, name, options) }];
        });
        // Tracks listed, none usable: the format changed (an empty category is fine if others list some).
        if (pages === 0 && listed.length > 0) checkFirstRecords(this.#check, url, listed.map((l) => l.record), totalTracks);
        for (const { index, record } of listed) {
          if (index <= skipThrough) continue;
          yielded++;
          yield { record, cursor: JSON.stringify({ category, page, index } satisfies Cursor) };
        }
        skipThrough = -1;
        if (page >= totalPages) break;
      }
    }
    if (from === null && yielded === 0) {
      checkFirstRecords(this.#check, this.#pageUrl(this.#spec.categories[0]!, 1), [], this.#total);
    }
  }

  /** `clapset probe`: a Range request on the record's preview MP3 (the CDN needs no session: none is sent). */
  probeMedia(record: ClipRecord): Promise<MediaCheck> {
    return probeMediaWith(this.#client, record.audio);
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    return downloadToWorkDir(this.#client, record.audio, workDir, { maxBytes: limits.maxBytes });
  }

  #pageUrl(category: string, page: number): URL {
    const url = new URL('json/search/sfx/', this.#spec.siteBase.endsWith('/') ? this.#spec.siteBase : `${this.#spec.siteBase}/`);
    url.searchParams.set('genres', category);
    url.searchParams.set('order', 'desc');
    url.searchParams.set('page', String(page));
    return url;
  }

  /** One page; `first` (a category's first page): a 404 is an error, not the end. */
  async #page(category: string, page: number, first: boolean): Promise<{ url: URL; totalPages: number; totalTracks: number | null; tracks: Record<string, unknown> }> {
    const url = this.#pageUrl(category, page);
    const response = await this.#client.request(url, { headers: this.#headers });
    const body = checkPage(response, url, this.#check, first) as { meta?: { totalPages?: unknown; totalTracks?: unknown }; entities?: { tracks?: unknown } } | null;
    if (body === null) return { url, totalPages: 0, totalTracks: null, tracks: {} };
    const totalPages = Number(body.meta?.totalPages);
    if (!Number.isInteger(totalPages) || totalPages < 0) throw formatError(this.#check, url, 'no meta.totalPages');
    const totalTracks = Number.isInteger(body.meta?.totalTracks) ? (body.meta!.totalTracks as number) : null;
    const tracks = body.entities?.tracks;
    // An empty page may come as [] (PHP/JSON habit) rather than {}.
    if (Array.isArray(tracks) && tracks.length === 0) return { url, totalPages, totalTracks, tracks: {} };
    if (tracks === null || typeof tracks !== 'object' || Array.isArray(tracks)) throw formatError(this.#check, url, 'entities.tracks is not an object keyed by id');
    return { url, totalPages, totalTracks, tracks: tracks as Record<string, unknown> };
  }
}

export function createEpidemicSource(spec: EpidemicSourceSpec, context: SourceContext): EpidemicSource {
  return new EpidemicSource(spec, context);
}
