/**
 * `clapset models pull <id>`: copies a model folder from a Hugging Face-style hub into the models root
 * (where `--caption-model <id>` looks), on a host that can reach one. Files come from
 * `<base>/<id>/resolve/<revision>/<path>`; the list from `<base>/api/models/<id>` (siblings, with
 * `lfs.sha256`/`size` where the hub gives them) unless one is passed.
 *
 * Each file downloads into `<path>.part` and is renamed only after its size and sha256 check out, so a
 * folder never holds a half file under its real name. An interrupted download resumes with an HTTP
 * Range request from the `.part`'s length (a server that ignores Range restarts it). A checksum
 * mismatch deletes the `.part` and fails: a bad mirror is not retried into a loop.
 * The hub token (HF_TOKEN) is read from the environment only and never logged.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { assertHubId, DTYPE_SUFFIX, modelsRoot, type ModelDtype } from './model-dir.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface PullOptions {
  id: string;
  /** Folder to fill; default `<models root>/<id>`. */
  dest?: string;
  /** Hub base URL; default CLAPSET_HUB_URL, else huggingface.co. */
  baseUrl?: string;
  revision?: string;
  /** Exact files to fetch (skips the API listing; no checksums then, sizes from the responses). */
  files?: readonly string[];
  /** With a listing: which ONNX variants to fetch besides the config/tokenizer files (default fp32). */
  dtypes?: readonly ModelDtype[];
  /** Attempts per file on network errors and 5xx, each resuming where the last stopped (default 4). */
  attempts?: number;
  env?: NodeJS.ProcessEnv;
  onProgress?: (event: { path: string; bytes: number; total: number | null }) => void;
}

export interface PulledFile {
  path: string;
  size: number;
  sha256: string;
  /** What the download was checked against. */
  verified: 'sha256' | 'size' | 'none';
  /** Bytes already on disk (a `.part`) when the download started; 0 for a fresh one. */
  resumedFrom: number;
  /** True when an identical file was already in place. */
  skipped: boolean;
}

export interface PullResult {
  id: string;
  dir: string;
  revision: string;
  files: PulledFile[];
}

interface RemoteFile {
  path: string;
  size: number | null;
  sha256: string | null;
}

/** Files every model folder needs, whatever its weights. */
const BASE_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json'];

export async function pullModel(options: PullOptions): Promise<PullResult> {
  assertHubId(options.id);
  const env = options.env ?? process.env;
  const base = (options.baseUrl ?? env.CLAPSET_HUB_URL ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const dir = options.dest ?? join(modelsRoot(env), ...options.id.split('/'));
  const headers: Record<string, string> = env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {};
  const listing = options.files
    ? { commit: revision, files: options.files.map((path) => ({ path, size: null, sha256: null })) }
    : await listFiles(base, options.id, revision, headers, options.dtypes ?? ['fp32']);
  if (listing.files.length === 0) throw new Error(`${options.id}@${revision}: nothing to pull`);
  for (const file of listing.files) assertSafePath(file.path);

  await mkdir(dir, { recursive: true });
  const pulled: PulledFile[] = [];
  for (const file of listing.files) {
    const url = `${base}/${options.id}/resolve/${encodeURIComponent(revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
    pulled.push(await pullFile(url, join(dir, ...file.path.split('/')), file, headers, options));
  }
  await writeFile(
    join(dir, 'clapset-pull.json'),
    `${JSON.stringify({ id: options.id, revision: listing.commit, requested_revision: revision, hub: base, files: pulled.map(({ path, size, sha256 }) => ({ path, size, sha256 })) }, null, 2)}\n`,
  );
  return { id: options.id, dir, revision: listing.commit, files: pulled };
}

/** The hub's file list for a revision, narrowed to what a captioner loads. */
async function listFiles(base: string, id: string, revision: string, headers: Record<string, string>, dtypes: readonly ModelDtype[]): Promise<{ commit: string; files: RemoteFile[] }> {
  const url = revision === 'main' ? `${base}/api/models/${id}?blobs=true` : `${base}/api/models/${id}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`listing ${id}@${revision} at ${base}: HTTP ${response.status}${response.status === 401 || response.status === 403 ? ' (set HF_TOKEN for gated or private models)' : ''}`);
  const body = (await response.json()) as { sha?: unknown; siblings?: unknown };
  if (!Array.isArray(body.siblings)) throw new Error(`listing ${id}@${revision}: the hub's answer has no siblings list`);
  const wantedOnnx = new Set(dtypes.flatMap((dtype) => ['encoder_model', 'decoder_model_merged'].map((stem) => `onnx/${stem}${DTYPE_SUFFIX[dtype]}.onnx`)));
  const files: RemoteFile[] = [];
  for (const sibling of body.siblings as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; size?: unknown } }[]) {
    const path = sibling.rfilename;
    if (typeof path !== 'string') continue;
    // External-data weights travel with their graph: onnx/x.onnx_data or onnx/x.onnx.data.
    const graph = path.replace(/(\.onnx)?[._]data$/, '.onnx');
    if (!BASE_FILES.includes(path) && !wantedOnnx.has(path) && !(graph !== path && wantedOnnx.has(graph))) continue;
    const size = typeof sibling.lfs?.size === 'number' ? sibling.lfs.size : typeof sibling.size === 'number' ? sibling.size : null;
    const sha256 = typeof sibling.lfs?.sha256 === 'string' ? sibling.lfs.sha256.toLowerCase() : null;
    files.push({ path, size, sha256 });
  }
  const missing = [...wantedOnnx].filter((path) => !files.some((file) => file.path === path));
  if (missing.length === wantedOnnx.size) throw new Error(`${id}@${revision} has none of ${[...wantedOnnx].join(', ')}: not an ONNX export in the published layout (try --dtype, or export with optimum)`);
  return { commit: typeof body.sha === 'string' ? body.sha : revision, files };
}

/** Relative, forward-slash, no `..`/empty segments: a listing cannot write outside the folder. */
function assertSafePath(path: string): void {
  const parts = path.split('/');
  if (path.startsWith('/') || path.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..') || posix.normalize(path) !== path) {
    throw new Error(`refusing hub file path ${JSON.stringify(path)}`);
  }
}

async function pullFile(url: string, target: string, file: RemoteFile, headers: Record<string, string>, options: PullOptions): Promise<PulledFile> {
  const existing = await stat(target).catch(() => null);
  if (existing?.isFile() && file.size !== null && existing.size === file.size) {
    const sha256 = await hashFile(target);
    if (file.sha256 === null || sha256 === file.sha256) {
      return { path: file.path, size: existing.size, sha256, verified: file.sha256 ? 'sha256' : 'size', resumedFrom: 0, skipped: true };
    }
  }
  await mkdir(dirname(target), { recursive: true });
  const part = `${target}.part`;
  const attempts = options.attempts ?? 4;
  const resumedFrom = (await stat(part).catch(() => null))?.size ?? 0;
  let total: number | null = file.size;
  for (let attempt = 1; ; attempt++) {
    try {
      total = (await downloadInto(url, part, file, headers, options)) ?? total;
      break;
    } catch (error) {
      if (!(error instanceof TransientError) || attempt >= attempts) throw error instanceof TransientError ? new Error(`${file.path}: ${error.message} (after ${attempt} attempts; rerun to resume)`) : error;
      await new Promise((done) => setTimeout(done, Math.min(200 * 2 ** attempt, 5000)));
    }
  }
  const size = (await stat(part)).size;
  const sha256 = await hashFile(part);
  const expectedSize = file.size ?? total;
  if (expectedSize !== null && size !== expectedSize) {
    await rm(part, { force: true });
    throw new Error(`${file.path}: size mismatch: expected ${expectedSize} bytes, got ${size}; the partial file was removed`);
  }
  if (file.sha256 !== null && sha256 !== file.sha256) {
    await rm(part, { force: true });
    throw new Error(`${file.path}: sha256 mismatch: expected ${file.sha256}, got ${sha256}; the partial file was removed`);
  }
  await rename(part, target);
  return { path: file.path, size, sha256, verified: file.sha256 ? 'sha256' : expectedSize !== null ? 'size' : 'none', resumedFrom, skipped: false };
}

class TransientError extends Error {}

/** One request appending to `part`; returns the full size when the response tells it. */
async function downloadInto(url: string, part: string, file: RemoteFile, headers: Record<string, string>, options: PullOptions): Promise<number | null> {
  const offset = (await stat(part).catch(() => null))?.size ?? 0;
  if (file.size !== null && offset === file.size) return file.size; // complete but not yet verified
  if (file.size !== null && offset > file.size) await rm(part, { force: true });
  const start = file.size !== null && offset > file.size ? 0 : offset;
  // Opened before the request so reading starts as soon as headers arrive: a web stream that errors
  // drops what it had queued, and every byte on disk is one the retry need not fetch again.
  const handle = await open(part, 'a');
  try {
    let response: Response;
    try {
      response = await fetch(url, { headers: { ...headers, ...(start > 0 ? { range: `bytes=${start}-` } : {}) } });
    } catch (error) {
      throw new TransientError(`fetching ${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (response.status === 416 && start > 0) {
      // The .part is at least as long as the file: start over rather than guess.
      await response.body?.cancel();
      await handle.truncate(0);
      throw new TransientError(`${url}: range ${start}- not satisfiable; restarting`);
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new TransientError(`${url}: HTTP ${response.status}`);
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new Error(`${url}: HTTP ${response.status}${response.status === 401 || response.status === 403 ? ' (set HF_TOKEN for gated or private models)' : ''}`);
    }
    if (!response.body) throw new TransientError(`${url}: empty response`);
    // 200 to a Range request: the server sent the whole file, so the .part starts again.
    const partial = response.status === 206;
    if (!partial) await handle.truncate(0);
    const total = partial ? Number(/\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1] ?? NaN) : Number(response.headers.get('content-length') ?? NaN);
    let bytes = partial ? start : 0;
    try {
      // Each chunk is on disk before the next is read, so a retry's Range starts right after it.
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        await handle.write(chunk);
        bytes += chunk.length;
        options.onProgress?.({ path: file.path, bytes, total: Number.isFinite(total) ? total : file.size });
      }
    } catch (error) {
      throw new TransientError(`${url}: download interrupted at ${bytes} bytes: ${error instanceof Error ? error.message : String(error)}`);
    }
    return Number.isFinite(total) ? total : null;
  } finally {
    await handle.close();
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
