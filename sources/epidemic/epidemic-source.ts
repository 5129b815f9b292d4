/**
 * Epidemic Sound's site JSON, the way LAION crawled it: per category,
 * `GET /json/search/sfx/?genres={Category}&order=desc&page=N` until `meta.totalPages`. Tracks come
 * as an object keyed by id (`entities.tracks`), whose key order is the server's business: each page
 * is read in id order so the crawl order is the same on every run. Audio: `stems.full.lqMp3Url`.
 */
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { EpidemicSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { providerClient } from '../provider-client.ts';
import { safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { orderedTrackIds, recordFromTrack } from './records.ts';

/** The last yielded track: category index, page (from 1), position in the page's ordered ids. */
interface Cursor {
  category: number;
  page: number;
  index: number;
}

export class EpidemicSource implements ResumableSource {
  readonly name: string;
  readonly #spec: EpidemicSourceSpec;
  readonly #client: HttpClient;

  constructor(spec: EpidemicSourceSpec, context: SourceContext) {
    this.#spec = spec;
    this.name = spec.name;
    this.#client = providerClient(context, { provider: 'epidemic', allowedHosts: [...hostsOf(spec.siteBase), ...spec.mediaHosts], rate: spec.rate });
  }

  async *records(cursor?: string): AsyncGenerator<ClipRecord> {
    for await (const item of this.crawl(cursor)) yield item.record;
  }

  async *crawl(cursor?: string): AsyncGenerator<CrawlItem> {
    const from = parseIntegerCursor('epidemic', cursor, { category: -Infinity, page: 1, index: -Infinity }, '{"category":c,"page":p,"index":i}');
    const options = { source: this.name, license: this.#spec.license };
    for (let category = from?.category ?? 0; category < this.#spec.categories.length; category++) {
      const name = this.#spec.categories[category]!;
      const resuming = from !== null && category === from.category;
      let page = resuming ? from.page : 1;
      let skipThrough = resuming ? from.index : -1;
      for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++, page++) {
        const { totalPages, tracks } = await this.#page(name, page);
        for (const [index, key] of orderedTrackIds(tracks).entries()) {
          if (index <= skipThrough) continue;
          const track = tracks[key];
          if (track === null || typeof track !== 'object') continue;
          yield { record: recordFromTrack(key, track as Record<string, unknown>, name, options), cursor: JSON.stringify({ category, page, index } satisfies Cursor) };
        }
        skipThrough = -1;
        if (page >= totalPages) break;
      }
    }
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    return downloadToWorkDir(this.#client, record.audio, workDir, { maxBytes: limits.maxBytes });
  }

  async #page(category: string, page: number): Promise<{ totalPages: number; tracks: Record<string, unknown> }> {
    const url = new URL('json/search/sfx/', this.#spec.siteBase.endsWith('/') ? this.#spec.siteBase : `${this.#spec.siteBase}/`);
    url.searchParams.set('genres', category);
    url.searchParams.set('order', 'desc');
    url.searchParams.set('page', String(page));
    const response = await this.#client.request(url, { headers: { accept: 'application/json' } });
    if (response.status === 404) return { totalPages: 0, tracks: {} };
    if (response.status !== 200) throw new Error(`epidemic: ${safeUrl(url)} answered HTTP ${response.status}`);
    const body = response.json() as { meta?: { totalPages?: unknown }; entities?: { tracks?: unknown } };
    const totalPages = Number(body.meta?.totalPages);
    if (!Number.isInteger(totalPages) || totalPages < 0) throw new Error(`epidemic: ${safeUrl(url)} has no meta.totalPages`);
    const tracks = body.entities?.tracks;
    // An empty page may come as [] (PHP/JSON habit) rather than {}.
    if (tracks === undefined || tracks === null || (Array.isArray(tracks) && tracks.length === 0)) return { totalPages, tracks: {} };
    if (typeof tracks !== 'object' || Array.isArray(tracks)) throw new Error(`epidemic: ${safeUrl(url)}: entities.tracks is not an object keyed by id`);
    return { totalPages, tracks: tracks as Record<string, unknown> };
  }
}

export function createEpidemicSource(spec: EpidemicSourceSpec, context: SourceContext): EpidemicSource {
  return new EpidemicSource(spec, context);
}
