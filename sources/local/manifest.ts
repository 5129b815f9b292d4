import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform, type TransformCallback } from 'node:stream';
import { parse, type CsvError, type InfoRecord, type Options } from 'csv-parse';
import { interpretRow, MANIFEST_COLUMNS, wholeRowProblem, type ManifestFormat, type ManifestItem } from './manifest-row.ts';

export type { ManifestFormat, ManifestItem, ManifestRow, InvalidManifestRow } from './manifest-row.ts';

// A runaway quote would otherwise buffer the rest of the file as one field.
const MAX_CSV_RECORD_CHARS = 1 << 20;
// How much of an unreadable line an invalid record keeps for diagnosis.
const RAW_PREVIEW_CHARS = 1000;

/**
 * The manifest's rows in file order, streamed. Malformed rows come out as `{ ok: false }` items
 * naming line, field and value, and the parse goes on; only an unreadable file, or a CSV header
 * with no file column, throws.
 */
export async function* readManifest(file: string): AsyncGenerator<ManifestItem> {
  const format = await manifestFormat(file);
  if (format.kind === 'jsonl') yield* readJsonl(file);
  else yield* readCsv(file, format.delimiter);
}

/** `.jsonl`/`.ndjson` and `.csv`/`.tsv` by extension; otherwise a first `{` means JSONL. */
export async function manifestFormat(file: string): Promise<{ kind: ManifestFormat; delimiter: string }> {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return { kind: 'jsonl', delimiter: '' };
  if (ext === '.csv') return { kind: 'csv', delimiter: ',' };
  if (ext === '.tsv') return { kind: 'csv', delimiter: '\t' };
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('{') ? { kind: 'jsonl', delimiter: '' } : { kind: 'csv', delimiter: ',' };
  } finally {
    await handle.close();
  }
}

async function* readJsonl(file: string): AsyncGenerator<ManifestItem> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const rawText of lines) {
    line++;
    const text = line === 1 ? rawText.replace(/^\uFEFF/, '') : rawText;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const message = `not valid JSON (${(error as Error).message})`;
      yield { ok: false, line, invalid: wholeRowProblem(line, message, text), raw: preview(text) };
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { ok: false, line, invalid: wholeRowProblem(line, 'expected a JSON object', value), raw: value };
      continue;
    }
    yield interpretRow(value as Record<string, unknown>, line, 'jsonl');
  }
}

type CsvItem =
  | { kind: 'record'; seq: number; line: number; fields: string[] }
  | { kind: 'skip'; seq: number; line: number; error: CsvError };

async function* readCsv(file: string, delimiter: string): AsyncGenerator<ManifestItem> {
  const lines = new LineIndex();
  // csv-parse counts CRLF inside quoted fields as two lines, so line numbers come from our own
  // newline index over the bytes the parser has consumed (it reports `bytes` per record).
  let seq = 0;
  let recordEnd = 0;
  const skipped: CsvItem[] = [];
  const options: Options<CsvItem, string[]> = {
    delimiter,
    trim: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_records_with_error: true,
    max_record_size: MAX_CSV_RECORD_CHARS,
    on_record: (fields: string[], context: InfoRecord): CsvItem => {
      const item: CsvItem = { kind: 'record', seq: seq++, line: lines.lineAt(recordEnd), fields };
      recordEnd = context.bytes;
      return item;
    },
    // Called synchronously while parsing, before any later record is emitted: `seq` restores order.
    on_skip: (error: CsvError | undefined) => {
      if (error === undefined) return undefined;
      skipped.push({ kind: 'skip', seq: seq++, line: lines.lineAt(recordEnd), error });
      if (typeof error.bytes === 'number') recordEnd = error.bytes;
      return undefined;
    },
  };
  // The typings only allow `on_record` to return the row type of the non-generic overload.
  const parser = parse(options as unknown as Options);
  const items = createReadStream(file).pipe(lines.tap()).pipe(parser) as AsyncIterable<CsvItem>;

  let header: string[] | null = null;
  const emit = (item: CsvItem): ManifestItem | null => {
    if (item.kind === 'skip') {
      return { ok: false, line: item.line, invalid: wholeRowProblem(item.line, csvErrorMessage(item.error)), raw: null };
    }
    if (item.fields.every((f) => f === '')) return null; // blank line
    if (header === null) {
      header = headerNames(item.fields);
      if (!header.some((name) => (MANIFEST_COLUMNS.file as readonly string[]).includes(name.toLowerCase()))) {
        throw new Error(`manifest ${file} has no file column (one of ${MANIFEST_COLUMNS.file.join(', ')}); its header is: ${header.join(', ')}`);
      }
      return null;
    }
    if (item.fields.length > header.length) {
      const message = `has ${item.fields.length} fields but the header names ${header.length} (an unquoted delimiter?)`;
      return { ok: false, line: item.line, invalid: wholeRowProblem(item.line, message, item.fields), raw: item.fields };
    }
    const fields: Record<string, unknown> = {};
    for (const [i, name] of header.entries()) fields[name] = item.fields[i]; // short rows: missing = absent
    return interpretRow(fields, item.line, 'csv');
  };

  for await (const item of items) {
    while (skipped.length > 0 && skipped[0]!.seq < item.seq) {
      const out = emit(skipped.shift()!);
      if (out) yield out;
    }
    const out = emit(item);
    if (out) yield out;
  }
  for (const item of skipped.splice(0)) {
    const out = emit(item);
    if (out) yield out;
  }
}

/** csv-parse's own messages count lines differently from us; say what went wrong instead. */
function csvErrorMessage(error: CsvError): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field opened in this row is never closed, so the rest of the file was read into it';
    case 'CSV_MAX_RECORD_SIZE':
      return `the row is over ${MAX_CSV_RECORD_CHARS} characters (an unclosed quote?); the rows it swallowed are lost`;
    default:
      return `${error.message.replace(/ at line \d+$/, '')} (${error.code})`;
  }
}

/** Header cells trimmed; blank or repeated names get positional ones so no column is lost. */
function headerNames(cells: string[]): string[] {
  const names: string[] = [];
  for (const [i, cell] of cells.entries()) {
    const name = cell.trim();
    names.push(name === '' || names.includes(name) ? `column_${i + 1}` : name);
  }
  return names;
}

/**
 * Remembers where the newlines are in a byte stream as it flows past (dropping the UTF-8 BOM, so
 * offsets match what the parser sees), and answers "which line holds byte N" for increasing N
 * while keeping only the offsets not yet asked about.
 */
class LineIndex {
  #pending: number[] = [];
  #head = 0;
  #seen = 0;
  #linesBefore = 0;

  tap(): Transform {
    let first = true;
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) => {
        if (first) {
          first = false;
          if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
        }
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.#pending.push(this.#seen + i);
        this.#seen += chunk.length;
        done(null, chunk);
      },
    });
  }

  /** 1-based line of byte `offset`; offsets must not decrease between calls. */
  lineAt(offset: number): number {
    while (this.#head < this.#pending.length && this.#pending[this.#head]! < offset) {
      this.#head++;
      this.#linesBefore++;
    }
    if (this.#head > 4096) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    return this.#linesBefore + 1;
  }
}

function preview(text: string): string {
  return text.length > RAW_PREVIEW_CHARS ? `${text.slice(0, RAW_PREVIEW_CHARS)}…` : text;
}
