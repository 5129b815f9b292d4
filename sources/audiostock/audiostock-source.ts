/**
 * Audiostock: listing pages (`listUrl` with `{page}`), in page order and item order, until a page
 * has no items or links no next page. Caption = the title without its leading number (LAION's
 * rule); tags comma-split; scene / purpose / impression kept as original data. Audio is the play URL,
 * which redirects (302) to a preview MP3 on another host — allowed through `mediaHosts`; a redirect
 * anywhere else is refused and counted by the HTTP layer.
 */
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { AudiostockSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { providerClient } from '../provider-client.ts';
import { safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import { log } from '../../infra/log.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { parseListing, titleWithoutNumber, type ListingItem } from './listing.ts';

interface Cursor {
  page: number;
  index: number;
}

export class AudiostockSource implements ResumableSource {
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
    for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++, page++) {
      const url = this.#spec.listUrl.replace('{page}', String(page));
      const response = await this.#client.request(url);
      if (response.status === 404) return;
      if (response.status !== 200) throw new Error(`audiostock: ${safeUrl(url)} answered HTTP ${response.status}`);
      const listing = parseListing(response.text(), response.url);
      if (response.robots.excluded) {
        // The page asks not to be used for ML: none of its items are taken, and they are counted.
        log.warn('audiostock: listing page opted out by X-Robots-Tag', { url: safeUrl(url), directives: response.robots.directives });
        await this.#client.count('robots_excluded', listing.items.length);
      } else {
        for (const item of listing.items) {
          if (item.position <= skipThrough) continue;
          yield { record: this.#record(item, page), cursor: JSON.stringify({ page, index: item.position } satisfies Cursor) };
        }
      }
      skipThrough = -1;
      if (listing.items.length === 0 || listing.next === null) return;
    }
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
      tags: item.tags,
      license: this.#spec.license,
      original: {
        title: item.rawTitle,
        tags: item.tags,
        scene: item.scene,
        purpose: item.purpose,
        impression: item.impression,
        audio_url: item.playUrl,
        url: item.detailUrl,
        page,
      },
      ...(problem === null ? {} : { invalid: `audiostock listing page ${page}, item ${item.position}: ${problem}` }),
    };
  }
}

export function createAudiostockSource(spec: AudiostockSourceSpec, context: SourceContext): AudiostockSource {
  return new AudiostockSource(spec, context);
}
