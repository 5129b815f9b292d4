/**
 * BBC Sound Effects: the `BBCSoundEffects.csv` index (an http(s) URL fetched politely, or a local
 * path) in file order, or the undocumented search API paged by `from`/`size`; audio is the WAV mirror
 * (`…/wav/{location}`). The index is ~16,000 rows (a few MB): it is read whole, then parsed with
 * csv-parse, which handles the quoted commas, doubled quotes and non-ASCII of the real file.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { BbcSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { providerClient } from '../provider-client.ts';
import { safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { recordFromCsvRow, recordFromSearchResult } from './records.ts';

const MAX_INDEX_BYTES = 256 * 1024 ** 2;

export class BbcSource implements ResumableSource {
  readonly name: string;
  readonly #spec: BbcSourceSpec;
  readonly #client: HttpClient;

  constructor(spec: BbcSourceSpec, context: SourceContext) {
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

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    return downloadToWorkDir(this.#client, record.audio, workDir, { maxBytes: limits.maxBytes, extension: '.wav' });
  }

  async *#csv(cursor: string | undefined): AsyncGenerator<CrawlItem> {
    const after = cursorField(cursor, 'row') ?? -1;
    const text = await this.#readIndex();
    const rows = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as { record: Record<string, string | undefined>; info: { lines: number } }[];
    const options = { source: this.name, mediaBase: this.#spec.mediaBase, license: this.#spec.license };
    for (const [row, { record, info }] of rows.entries()) {
      if (row <= after) continue;
      yield { record: recordFromCsvRow(record, info.lines, options), cursor: JSON.stringify({ row }) };
    }
  }

  async *#search(cursor: string | undefined): AsyncGenerator<CrawlItem> {
    const state = cursor === undefined ? null : (JSON.parse(cursor) as { from?: unknown; index?: unknown });
    let from = typeof state?.from === 'number' ? state.from : 0;
    let skipThrough = typeof state?.index === 'number' ? state.index : -1;
    const size = this.#spec.searchPageSize;
    const options = { source: this.name, mediaBase: this.#spec.mediaBase, license: this.#spec.license };
    for (let pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; pages++) {
      const criteria: Record<string, unknown> = { from, size };
      if (this.#spec.searchQuery !== undefined) criteria.query = this.#spec.searchQuery;
      if (this.#spec.searchCategories !== undefined) criteria.categories = this.#spec.searchCategories;
      const response = await this.#client.request(this.#spec.searchApi, { method: 'POST', json: { criteria } });
      if (response.status !== 200) throw new Error(`bbc: search ${safeUrl(this.#spec.searchApi)} answered HTTP ${response.status}`);
      const body = response.json() as { total?: unknown; results?: unknown };
      if (!Array.isArray(body.results) || typeof body.total !== 'number') throw new Error('bbc: search answered without {total, results[]}');
      for (const [index, result] of body.results.entries()) {
        if (index <= skipThrough || result === null || typeof result !== 'object') continue;
        yield { record: recordFromSearchResult(result as Record<string, unknown>, options), cursor: JSON.stringify({ from, index }) };
      }
      skipThrough = -1;
      from += body.results.length;
      if (body.results.length === 0 || from >= body.total) return;
    }
  }

  async #readIndex(): Promise<string> {
    const index = this.#spec.index;
    if (!/^https?:\/\//i.test(index)) return readFile(index, 'utf8');
    const response = await this.#client.request(index, { maxBytes: MAX_INDEX_BYTES });
    if (response.status !== 200) throw new Error(`bbc: index ${safeUrl(index)} answered HTTP ${response.status}`);
    return response.text();
  }
}

export function createBbcSource(spec: BbcSourceSpec, context: SourceContext): BbcSource {
  return new BbcSource(spec, context);
}

function cursorField(cursor: string | undefined, field: string): number | null {
  if (cursor === undefined) return null;
  let value: unknown;
  try {
    value = (JSON.parse(cursor) as Record<string, unknown>)[field];
  } catch {
    value = undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new Error(`bbc: bad resume cursor ${JSON.stringify(cursor)}`);
  return value;
}
