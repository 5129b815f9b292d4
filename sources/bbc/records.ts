/**
 * BBC Sound Effects rows → clip records (pure). Caption = the description (LAION's rule); tags = the
 * category's parts (`Engines: Petrol` → `Engines`, `Petrol`) and the CD name; the licence is the
 * spec's (RemArc: personal, educational or research use). Rows come from the CSV index or the
 * search API; both land in the same record shape.
 */
import type { ClipRecord } from '../../schemas/clip.ts';

export const CSV_COLUMNS = ['location', 'description', 'secs', 'category', 'CDNumber', 'CDName', 'tracknum'] as const;

export interface BbcRecordOptions {
  source: string;
  mediaBase: string;
  license: string;
}

function tidy(text: unknown): string {
  return typeof text === 'string' ? text.normalize('NFC').replace(/\s+/g, ' ').trim() : '';
}

function uniq(values: string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

/** `https://…/wav/` + `07076051.wav`, the file name URL-encoded (it is data, not a path). */
export function mediaUrl(mediaBase: string, location: string): string {
  const base = mediaBase.endsWith('/') ? mediaBase : `${mediaBase}/`;
  return new URL(encodeURIComponent(location), base).href;
}

export function categoryTags(category: string): string[] {
  return category.split(/[:;]/).map(tidy);
}

/** One CSV row (columns by header name) as a record; a row without a usable location is invalid. */
export function recordFromCsvRow(row: Record<string, string | undefined>, line: number, options: BbcRecordOptions): ClipRecord {
  const location = tidy(row.location);
  const description = tidy(row.description);
  const secs = Number(tidy(row.secs));
  const original: Record<string, unknown> = { ...row, csv_line: line };
  if (tidy(row.secs) !== '' && Number.isFinite(secs)) original.secs = secs;
  const valid = /^[A-Za-z0-9][A-Za-z0-9._-]*\.wav$/i.test(location);
  return {
    source: options.source,
    id: valid ? location.replace(/\.wav$/i, '') : `csv-line-${line}`,
    audio: valid ? mediaUrl(options.mediaBase, location) : `bbc:csv-line-${line}`,
    text: description === '' ? [] : [description],
    tags: uniq([...categoryTags(row.category ?? ''), tidy(row.CDName)]),
    license: options.license,
    original,
    ...(valid ? {} : { invalid: `BBC index line ${line}: unusable location ${JSON.stringify(row.location ?? null)}` }),
  };
}

/**
 * One search-API result (`{id, description, duration (ms), categories, tags, additionalMetadata,
 * fileSizes: {wavFileSize, mp3FileSize}}`); the WAV's size, when stated, sizes the transcode chunks.
 */
export function recordFromSearchResult(result: Record<string, unknown>, options: BbcRecordOptions): ClipRecord {
  const id = typeof result.id === 'string' || typeof result.id === 'number' ? String(result.id) : '';
  const valid = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id);
  const description = tidy(result.description);
  const categories = Array.isArray(result.categories)
    ? result.categories.map((c) => tidy((c as { className?: unknown } | null)?.className))
    : [];
  const tags = Array.isArray(result.tags) ? result.tags.map(tidy) : [];
  const meta = (result.additionalMetadata ?? {}) as Record<string, unknown>;
  const wavBytes = (result.fileSizes as { wavFileSize?: unknown } | null | undefined)?.wavFileSize;
  return {
    source: options.source,
    id: valid ? id : `search-${JSON.stringify(result.id ?? null)}`,
    audio: valid ? mediaUrl(options.mediaBase, `${id}.wav`) : 'bbc:invalid',
    text: description === '' ? [] : [description],
    tags: uniq([...categories.flatMap(categoryTags), ...tags, tidy(meta.cdName)]),
    license: options.license,
    original: result,
    ...(Number.isInteger(wavBytes) && (wavBytes as number) > 0 ? { bytes: wavBytes as number } : {}),
    ...(valid ? {} : { invalid: `BBC search result without a usable id: ${JSON.stringify(result.id ?? null)}` }),
  };
}
