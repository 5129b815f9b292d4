/**
 * Shard URLs for readers: the one place that turns a dataset's shard names (as `sizes.json` lists
 * them) into what Python's webdataset, Hugging Face `datasets` and LAION-CLAP's loader accept —
 * a brace pattern per split, or one URL per shard. Used by the dataset card and `clapset urls`.
 *
 * webdataset expands braces over the whole string (Python `braceexpand`, bash semantics) before it
 * opens anything, and runs a `pipe:` URL with `sh -c`, so a pattern for a pipe scheme is a shell
 * command that expands into one command per shard. It has no handler for `s3://` itself.
 */

/** Where the shards are: a local folder, or a bucket/prefix with the custom endpoint when not AWS. */
export type ShardHome = { kind: 'local'; root: string } | { kind: 's3'; bucket: string; prefix: string; endpoint: string | null };

export interface ShardUrlContext {
  home: ShardHome;
  /** HTTP(S) base the dataset root is served from (public bucket, CDN), or null. */
  publicUrl: string | null;
}

/** `path`: local files; `s3`: plain s3:// URLs (s3fs, HF datasets); `pipe-*`: commands webdataset runs; `https`: the public base. */
export const URL_SCHEMES = ['path', 's3', 'pipe-aws', 'pipe-s5cmd', 'https'] as const;
export type UrlScheme = (typeof URL_SCHEMES)[number];

/** The form a plain python `wds.WebDataset(url)` opens as written: paths for a folder, `aws s3 cp` for S3. */
export function defaultScheme(home: ShardHome): UrlScheme {
  return home.kind === 'local' ? 'path' : 'pipe-aws';
}

/** The schemes a dataset can be read with, in the order the card shows them. */
export function availableSchemes(context: ShardUrlContext): UrlScheme[] {
  const own: UrlScheme[] = context.home.kind === 'local' ? ['path'] : ['pipe-aws', 'pipe-s5cmd', 's3'];
  return context.publicUrl === null ? own : [...own, 'https'];
}

const SHARD_NAME = /^([a-z0-9-]+)-(\d+)\.tar$/;

/**
 * The brace body covering exactly `names` (`src-000000.tar` …): one alternative per run of
 * consecutive indexes per source, so a missing shard is never named —
 * `{bbc-{000000..000003},freesound-000007}.tar`. Index widths stay as written (a range's ends have
 * equal width, since braceexpand pads to the wider end).
 */
export function shardPattern(names: readonly string[]): string {
  const groups = new Map<string, { source: string; width: number; indexes: number[] }>();
  for (const name of names) {
    const match = SHARD_NAME.exec(name);
    if (!match) throw new Error(`not a clapset shard name (want <source>-<index>.tar): ${JSON.stringify(name)}`);
    const [, source, digits] = match as unknown as [string, string, string];
    const id = `${source}/${digits.length}`;
    const group = groups.get(id) ?? { source, width: digits.length, indexes: [] };
    group.indexes.push(Number(digits));
    groups.set(id, group);
  }
  if (groups.size === 0) throw new Error('no shards to name');
  const alternatives: string[] = [];
  for (const { source, width, indexes } of [...groups.values()].sort((a, b) => a.source.localeCompare(b.source) || a.width - b.width)) {
    const pad = (i: number) => String(i).padStart(width, '0');
    const sorted = [...new Set(indexes)].sort((a, b) => a - b);
    for (let start = 0; start < sorted.length; ) {
      let end = start;
      while (end + 1 < sorted.length && sorted[end + 1] === sorted[end]! + 1) end++;
      const [lo, hi] = [sorted[start]!, sorted[end]!];
      alternatives.push(lo === hi ? `${source}-${pad(lo)}` : `${source}-{${pad(lo)}..${pad(hi)}}`);
      start = end + 1;
    }
  }
  return alternatives.length === 1 ? `${alternatives[0]}.tar` : `{${alternatives.join(',')}}.tar`;
}

/** A brace pattern for every shard of a split: what `wds.WebDataset(…)` takes. */
export function braceUrl(context: ShardUrlContext, scheme: UrlScheme, split: string, names: readonly string[]): string {
  return render(context, scheme, split, shardPattern(names), escapeBraces);
}

/** One URL per shard, in sizes.json order (for lists, which webdataset does not brace-expand). */
export function shardUrlList(context: ShardUrlContext, scheme: UrlScheme, split: string, names: readonly string[]): string[] {
  shardPattern(names); // the same name check as the pattern
  return names.map((name) => render(context, scheme, split, name, (text) => text));
}

/** Where `<split>/sizes.json` is for a scheme's readers (LAION-CLAP reads it beside the shards). */
export function sizesLocation(context: ShardUrlContext, scheme: UrlScheme, split: string): string {
  return `${base(context, scheme === 'https' ? 'https' : context.home.kind === 'local' ? 'path' : 's3', split)}sizes.json`;
}

function base(context: ShardUrlContext, scheme: UrlScheme, split: string): string {
  const { home } = context;
  if (scheme === 'https') {
    if (context.publicUrl === null) throw new Error('no public URL for this dataset: give --public-url https://… (to crawl, finalise or urls)');
    return `${context.publicUrl.replace(/\/+$/, '')}/${split}/`;
  }
  if (scheme === 'path') {
    if (home.kind !== 'local') throw new Error(`the dataset is in s3://${home.bucket}/${home.prefix}: read it with --scheme pipe-aws, pipe-s5cmd, s3 or https`);
    return `${home.root.replace(/\/+$/, '')}/${split}/`;
  }
  if (home.kind !== 's3') throw new Error(`the dataset is the local folder ${home.root}: --scheme ${scheme} needs an s3:// dataset (use path, or https with a public URL)`);
  return `s3://${home.bucket}/${home.prefix}${split}/`;
}

/** `literal` protects the fixed text from brace expansion (patterns) or leaves it as is (lists). */
function render(context: ShardUrlContext, scheme: UrlScheme, split: string, tail: string, literal: (text: string) => string): string {
  const url = base(context, scheme, split);
  if (scheme !== 'pipe-aws' && scheme !== 'pipe-s5cmd') return literal(url) + tail;
  const endpoint = context.home.kind === 's3' ? context.home.endpoint : null;
  const option = endpoint === null ? '' : ` --endpoint-url ${literal(shellWord(endpoint))}`;
  // The shard's words are quoted around the tail too, so the expansion stays one shell word.
  const quoted = needsQuoting(url) ? `${literal(`'${url.replace(/'/g, `'\\''`)}`)}${tail}'` : literal(url) + tail;
  return scheme === 'pipe-aws' ? `pipe:aws s3 cp${option} ${quoted} -` : `pipe:s5cmd${option} cat ${quoted}`;
}

const needsQuoting = (text: string) => !/^[A-Za-z0-9_@%+=:,./~-]*$/.test(text);
const shellWord = (text: string) => (needsQuoting(text) ? `'${text.replace(/'/g, `'\\''`)}'` : text);
/** braceexpand's escapes: a backslash keeps `{`, `}`, `,` and itself literal. */
const escapeBraces = (text: string) => text.replace(/[\\{},]/g, '\\$&');
