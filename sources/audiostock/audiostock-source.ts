/**
 * Audiostock (audiostock.jp; audiostock.net, which LAION crawled, is gone): listing pages
 * (`listUrl` with `{page}`), in page order and item order, until a page lists nothing or answers
 * 404. Caption = the title without its leading number (LAION's rule). Audio is the play URL, which
 * redirects (302) to a 128 kbps preview MP3 on cf-audiostock-public-files.audiostock.jp — allowed
 * by default through `mediaHosts`; a redirect anywhere else is refused and counted by the HTTP
 * layer. A first page that is missing (404), refused, a challenge or lists no works is an error
 * (first-page.ts): with a markup change the listing would otherwise parse as empty and end "done".
 */
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { AudiostockSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { checkFirstRecords, checkPage, type PageCheck } from '../first-page.ts';
import { providerClient } from '../provider-client.ts';
import { probeMediaWith, type MediaCheck, type Probeable } from '../probe.ts';
import { safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import { log } from '../../infra/log.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { parseListing, titleWithoutNumber, type ListingItem } from './listing.ts';

interface Cursor {
  page: number;
  index: number;
}

export class AudiostockSource implements ResumableSource, Probeable {
  readonly name: string;
  readonly #spec: AudiostockSourceSpec;
  readonly #client: HttpClient;

  constructor(spec: AudiostockSourceSpec, context: SourceContext) {
    this.#spec = spec;
    this.name = spec.name;
    this.#client = providerClient(context, { provider: 'audiostock', allowedHosts: [...hostsOf(spec.listUrl.replace('{page}', '1')), ...spec.mediaHosts], rate: spec.rate });
  }

  async *records(cursor?: string): AsyncGenerator<ClipRecord> {
    for await (const item of this.crawl(cursor)) yield item.record;
  }

  async *crawl(cursor?: string): AsyncGenerator<CrawlItem> {
    const from = parseIntegerCursor('audiostock', cursor, { page: -Infinity, index: -Infinity }, '{"page":p,"index":i}');
    let page = from?.page ?? this.#spec.firstPage;
    let skipThrough = from?.index ?? -1;
    const check: PageCheck = {
      provider: 'audiostock',
      format: 'html',
      whenRefused: 'Audiostock refused or challenged the crawler; lower the rate or crawl from a copy of the listing',
      whenMissing: `check listUrl (${this.#spec.listUrl}; audiostock.net is gone, the site is audiostock.jp) and, if the page loads in a browser, whether its markup still has div.player-item works (sources/audiostock/listing.ts)`,
    };
    for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++, page++) {
      const first = from === null && pages === 0;
      const url = this.#spec.listUrl.replace('{page}', String(page));
      const response = await this.#client.request(url);
      checkPage(response, url, check, first);
      if (response.status !== 200) return; // a 404 past the last page
      const items = parseListing(response.text(), response.url);
      const records = items.map((item) => this.#record(item, page));
      if (first) checkFirstRecords(check, url, records, null);
      if (response.robots.excluded) {
        // The page asks not to be used for ML: none of its items are taken, and they are counted.
        log.warn('audiostock: listing page opted out by X-Robots-Tag', { url: safeUrl(url), directives: response.robots.directives });
        await this.#client.count('robots_excluded', items.length);
      } else {
        for (const [position, record] of records.entries()) {
          if (position <= skipThrough) continue;
          yield { record, cursor: JSON.stringify({ page, index: position } satisfies Cursor) };
        }
      }
      skipThrough = -1;
      if (items.length === 0) return;
    }
  }

  /** Audiostock states no total on its listing pages (as far as the known markup goes). */
  readonly total = null;

  /** `clapset probe`: a Range request on the play URL, through its redirect to the preview host. */
  probeMedia(record: ClipRecord): Promise<MediaCheck> {
    return probeMediaWith(this.#client, record.audio);
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    // The play URL names no extension; the preview is MP3.
    return downloadToWorkDir(this.#client, record.audio, workDir, { maxBytes: limits.maxBytes, extension: '.mp3' });
  }

  #record(item: ListingItem, page: number): ClipRecord {
    const title = titleWithoutNumber(item.rawTitle);
    const problem = item.id === null ? 'no audio id' : item.playUrl === null ? 'no play URL' : title === '' ? 'no title' : null;
    const id = item.id ?? `page-${page}-item-${item.position}`;
    return {
      source: this.name,
      id,
      audio: item.playUrl ?? `audiostock:${id}`,
      text: title === '' ? [] : [title],
      // The listing's tag markup is unknown (listing.ts): no tags rather than invented ones.
      tags: [],
      license: this.#spec.license,
      original: { title: item.rawTitle, creator: item.creator, seconds: item.seconds, audio_url: item.playUrl, url: item.detailUrl, page },
      ...(problem === null ? {} : { invalid: `audiostock listing page ${page}, item ${item.position}: ${problem}` }),
    };
  }
}

export function createAudiostockSource(spec: AudiostockSourceSpec, context: SourceContext): AudiostockSource {
  return new AudiostockSource(spec, context);
}
