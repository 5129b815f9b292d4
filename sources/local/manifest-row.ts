import { ValidationError } from '../../schemas/parse.ts';

/** One usable manifest row. Empty `captions`/`tags` mean the row gave none (fall back to the path). */
export interface ManifestRow {
  ok: true;
  /** 1-based line of the file where the row starts. */
  line: number;
  /** The audio path as written (trimmed); resolve it against the source root. */
  file: string;
  captions: string[];
  tags: string[];
  license: string | null;
  /** Every column the manifest has beyond the recognised ones, under its own name. */
  extra: Record<string, unknown>;
}

/** A row that cannot become a clip; `invalid` names the line, the field and the value at fault. */
export interface InvalidManifestRow {
  ok: false;
  line: number;
  invalid: string;
  /** The row as read (fields, or the line's text when it did not parse), for the record's `original`. */
  raw: unknown;
}

export type ManifestItem = ManifestRow | InvalidManifestRow;

export type ManifestFormat = 'csv' | 'jsonl';

/** Recognised columns, each with its aliases in order of preference (matched case-insensitively). */
export const MANIFEST_COLUMNS = {
  file: ['file', 'path', 'filename', 'location'],
  caption: ['caption', 'text', 'description'],
  tags: ['tags', 'tag'],
  license: ['license', 'licence'],
} as const;

type Role = keyof typeof MANIFEST_COLUMNS;
type Problem = ValidationError['problems'][number];

const MAX_FILE_LENGTH = 2048; // a clip id's limit (schemas/clip.ts)

/** `invalid manifest row at line N: field: problem (got value)`, in the schemas' wording. */
export function rowProblem(line: number, problems: Problem[]): string {
  return new ValidationError(`manifest row at line ${line}`, problems).message;
}

/** The same wording for a problem with the row as a whole (it did not parse, or has extra fields). */
export function wholeRowProblem(line: number, message: string, value?: unknown): string {
  const got = value === undefined ? '' : ` (got ${preview(value)})`;
  return `invalid manifest row at line ${line}: ${message}${got}`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Reads one manifest row (fields keyed by column name) into a `ManifestItem`. CSV values are
 * strings: several captions are split on ` | ` and tags on `,`/`;`. JSONL values may also be
 * arrays of strings. Any type problem makes the whole row invalid rather than silently dropping a
 * field, so that a caption is never attached from a half-read row.
 */
export function interpretRow(fields: Record<string, unknown>, line: number, format: ManifestFormat): ManifestItem {
  const { chosen, extra } = assignColumns(fields);
  const problems: Problem[] = [];

  const file = chosen.file;
  let path = '';
  if (file === undefined) {
    problems.push({ path: 'file', message: `required: the audio file's path (a ${MANIFEST_COLUMNS.file.join(', ')} column)`, value: undefined });
  } else if (typeof file.value !== 'string') {
    problems.push({ path: file.key, message: 'expected a string (the audio file path)', value: file.value });
  } else if (file.value.trim().length > MAX_FILE_LENGTH || file.value.includes('\0')) {
    problems.push({ path: file.key, message: `expected a path of at most ${MAX_FILE_LENGTH} characters without NUL`, value: file.value });
  } else {
    path = file.value.trim();
  }

  const captions = readStrings(chosen.caption, format === 'csv' ? /\s+\|\s+/ : null, problems);
  const tags = dedupe(readStrings(chosen.tags, /[,;]/, problems));

  let license: string | null = null;
  if (chosen.license !== undefined) {
    if (typeof chosen.license.value === 'string') license = chosen.license.value.trim() || null;
    else problems.push({ path: chosen.license.key, message: 'expected a string', value: chosen.license.value });
  }

  if (problems.length > 0) return { ok: false, line, invalid: rowProblem(line, problems), raw: fields };
  return { ok: true, line, file: path, captions, tags, license, extra };
}

/**
 * Picks the column that plays each role: the first alias holding a non-empty value (so an empty
 * `caption` column does not hide a filled `description`). Unpicked columns, aliases included,
 * stay in `extra`.
 */
function assignColumns(fields: Record<string, unknown>) {
  const chosen: Partial<Record<Role, { key: string; value: unknown }>> = {};
  const used = new Set<string>();
  const byLowerName = new Map<string, string>();
  for (const key of Object.keys(fields)) {
    const lower = key.trim().toLowerCase();
    if (!byLowerName.has(lower)) byLowerName.set(lower, key);
  }
  for (const role of Object.keys(MANIFEST_COLUMNS) as Role[]) {
    for (const alias of MANIFEST_COLUMNS[role]) {
      const key = byLowerName.get(alias);
      if (key === undefined || isEmpty(fields[key])) continue;
      chosen[role] = { key, value: fields[key] };
      used.add(key);
      break;
    }
  }
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (!used.has(key)) extra[key] = value;
  return { chosen, extra };
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
}

/** A string (split on `separator` when given) or an array of strings, cleaned; [] when absent. */
function readStrings(column: { key: string; value: unknown } | undefined, separator: RegExp | null, problems: Problem[]): string[] {
  if (column === undefined) return [];
  const { key, value } = column;
  let items: string[];
  if (typeof value === 'string') {
    items = separator ? value.split(separator) : [value];
  } else if (Array.isArray(value)) {
    const bad = value.findIndex((v) => typeof v !== 'string');
    if (bad >= 0) {
      problems.push({ path: `${key}.${bad}`, message: 'expected a string', value: value[bad] });
      return [];
    }
    items = value as string[];
  } else {
    problems.push({ path: key, message: 'expected a string or an array of strings', value });
    return [];
  }
  return items.map((s) => s.normalize('NFC').replace(/\s+/g, ' ').trim()).filter((s) => s !== '');
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}
