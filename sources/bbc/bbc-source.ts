/**
 * BBC Sound Effects: the `BBCSoundEffects.csv` index (an http(s) URL fetched politely, or a local
 * path) in file order, or the undocumented search API paged by `from`/`size`; audio is the WAV mirror
 * (`…/wav/{location}`). The index is ~16,000 rows (a few MB): it is read whole, then parsed with
 * csv-parse, which handles the quoted commas, doubled quotes and non-ASCII of the real file. There
 * is no default index: the old host (bbcsfx.acropolis.org.uk) is dead and redirects to the
 * bbcrewind home page, so the operator names a copy of `BBCSoundEffects.csv`. An index that is
 * missing, HTML (a sign-in page), lacks the `location`/`description` header or lists nothing, and a
 * first search page that is refused or empty, are errors (first-page.ts), never an empty crawl.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { BbcSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { checkFirstRecords, checkPage, formatError, ProviderError, type PageCheck } from '../first-page.ts';
import { providerClient } from '../provider-client.ts';
import { probeMediaWith, type MediaCheck, type Probeable } from '../probe.ts';
import { safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { recordFromCsvRow, recordFromSearchResult } from './records.ts';

const MAX_INDEX_BYTES = 256 * 1024 ** 2;
/** The columns a record is made of: without them every row would be an invalid record. */
const REQUIRED_COLUMNS = ['location', 'description'] as const;
const INDEX_HINT = 'set index to a path or http(s) URL of a copy of the public BBCSoundEffects.csv (16,011 rows; header "location","description","secs","category","CDNumber","CDName","tracknum")';

export class BbcSource implements ResumableSource, Probeable {
  readonly name: string;
  readonly #spec: BbcSourceSpec;
  readonly #client: HttpClient;
  #total: number | null = null;

  constructor(spec: BbcSourceSpec, context: SourceContext) {
    if (spec.mode === 'csv' && spec.index === undefined) throw new Error(`bbc: no index: ${INDEX_HINT} (the old default host bbcsfx.acropolis.org.uk is dead), or set mode=search`);
    this.#spec = spec;
    this.name = spec.name;
    this.#client = providerClient(context, {
      provider: 'bbc',
      allowedHosts: [...hostsOf(spec.index, spec.mediaBase, spec.mode === 'search' ? spec.searchApi : undefined), ...spec.mediaHosts],
      rate: spec.rate,
    });
  }

  async *records(cursor?: string): AsyncGenerator<ClipRecord> {
    for await (const item of this.crawl(cursor)) yield item.record;
  }

  /** Cursors: `{"row": n}` (CSV: data row n, 0-based, was the last yielded) or `{"from": n, "index": i}` (search). */
  crawl(cursor?: string): AsyncGenerator<CrawlItem> {
    return this.#spec.mode === 'csv' ? this.#csv(cursor) : this.#search(cursor);
  }

  /** `clapset probe`: a Range request on the record's WAV. */
  probeMedia(record: ClipRecord): Promise<MediaCheck> {
    return probeMediaWith(this.#client, record.audio);
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    return downloadToWorkDir(this.#client, record.audio, workDir, { maxBytes: limits.maxBytes, extension: '.wav' });
  }

  /** The provider's total as last read: rows of the index, or the search's `total`. */
  get total(): number | null {
    return this.#total;
  }

  async *#csv(cursor: string | undefined): AsyncGenerator<CrawlItem> {
    const after = parseIntegerCursor('bbc', cursor, { row: -1 }, '{"row":n}')?.row ?? -1;
    const index = this.#spec.index!;
    const text = await this.#readIndex(index);
    let header: string[] = [];
    const rows = parse(text, {
      columns: (names: string[]) => (header = names.map((h) => h.trim())),
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as { record: Record<string, string | undefined>; info: { lines: number } }[];
    const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
    if (missing.length > 0) throw formatError(this.#check('csv'), index, `the index has no ${missing.join(', ')} column (header: ${JSON.stringify(header.slice(0, 8).join(','))}); ${INDEX_HINT}`);
    this.#total = rows.length;
    const options = { source: this.name, mediaBase: this.#spec.mediaBase, license: this.#spec.license };
    const records = rows.map(({ record, info }) => recordFromCsvRow(record, info.lines, options));
    checkFirstRecords(this.#check('csv'), index, records.slice(0, 100), rows.length);
    for (const [row, record] of records.entries()) {
      if (row <= after) continue;
      yield { record, cursor: JSON.stringify({ row }) };
    }
  }

  #check(format: 'csv' | 'json'): PageCheck {
    return format === 'csv'
      ? { provider: 'bbc', format, whenRefused: INDEX_HINT, whenMissing: INDEX_HINT }
      : { provider: 'bbc', format, whenRefused: 'the search API refused us; crawl from the CSV index instead (mode=csv, index=…)', whenMissing: `check searchApi (${safeUrl(this.#spec.searchApi)}), searchQuery and searchCategories` };
  }

  async *#search(cursor: string | undefined): AsyncGenerator<CrawlItem> {
    const state = parseIntegerCursor('bbc', cursor, { from: 0, index: -1 }, '{"from":n,"index":i}');
    let from = state?.from ?? 0;
    let skipThrough = state?.index ?? -1;
    const size = this.#spec.searchPageSize;
    const options = { source: this.name, mediaBase: this.#spec.mediaBase, license: this.#spec.license };
    for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++) {
      const criteria: Record<string, unknown> = { from, size };
      if (this.#spec.searchQuery !== undefined) criteria.query = this.#spec.searchQuery;
      if (this.#spec.searchCategories !== undefined) criteria.categories = this.#spec.searchCategories;
      const first = state === null && pages === 0;
      const response = await this.#client.request(this.#spec.searchApi, { method: 'POST', json: { criteria } });
      const body = checkPage(response, this.#spec.searchApi, this.#check('json'), true) as { total?: unknown; results?: unknown };
      if (!Array.isArray(body?.results) || typeof body.total !== 'number') throw formatError(this.#check('json'), this.#spec.searchApi, 'no {total, results[]}');
      this.#total = body.total;
      const listed = body.results.flatMap((result: unknown, index) =>
        result === null || typeof result !== 'object' ? [] : [{ index, record: recordFromSearchResult(result as Record<string, unknown>, options) }],
      );
      if (first) checkFirstRecords(this.#check('json'), this.#spec.searchApi, listed.map((l) => l.record), body.total);
      for (const { index, record } of listed) {
        if (index > skipThrough) yield { record, cursor: JSON.stringify({ from, index }) };
      }
      skipThrough = -1;
      if (body.results.length === 0 && from < body.total) {
        // Public clients report the API stops paging near offset 900: a crawl ending here would be short, silently.
        throw new ProviderError('bbc', safeUrl(this.#spec.searchApi), response.status, 'empty', `bbc: the search API listed nothing at offset ${from} of the ${body.total} it reports (its paging cap?); narrow searchQuery/searchCategories so each crawl lists fewer than ~900, or crawl the CSV index (mode=csv)`);
      }
      from += body.results.length;
      if (from >= body.total) return;
    }
  }

  async #readIndex(index: string): Promise<string> {
    if (!/^https?:\/\//i.test(index)) {
      return readFile(index, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new Error(`bbc: cannot read the index ${index} (${error.code ?? error.message}); ${INDEX_HINT}`);
      });
    }
    const response = await this.#client.request(index, { maxBytes: MAX_INDEX_BYTES });
    checkPage(response, index, this.#check('csv'), true);
    return response.text();
  }
}

export function createBbcSource(spec: BbcSourceSpec, context: SourceContext): BbcSource {
  return new BbcSource(spec, context);
}
