/**
 * `clapset models pull <id>`: copies a model folder in the transformers.js layout (CLAP:
 * Xenova/clap-htsat-unfused, Xenova/larger_clap_general …; T5: Xenova/t5-small …) from a Hugging
 * Face-style hub into the models root, where `--clap-model <id>` / `--caption-model <id>` look.
 *
 * The Hub's API, as huggingface.js reads it (packages/hub/src/lib/model-info.ts, list-files.ts,
 * file-download-info.ts) and huggingface_hub's `RepoFile`/`BlobLfsInfo` describe it:
 *   1. `GET /api/models/<id>/revision/<rev>` → `{ id, sha, siblings: [{ rfilename }], … }`: `sha` is
 *      the commit the revision names now; every later request uses it, so a push to `main` during a
 *      pull cannot mix two versions.
 *   2. `GET /api/models/<id>/tree/<commit>?recursive=true` → `[{ type, path, size, oid, lfs?: { oid,
 *      size, pointerSize } }]`, paginated by a `Link: <…>; rel="next"` header. `lfs.oid` is the
 *      file's sha256; `oid` of a small (non-LFS) file is its git blob id, sha1("blob <size>\0" + bytes).
 *   3. `GET /<id>/resolve/<commit>/<path>`: small files answer directly; LFS files redirect to a
 *      download host (cdn-lfs*.hf.co, cas-bridge.xethub.hf.co) with a signed URL.
 *
 * Which files: config.json is fetched first and its `model_type` decides the graphs (clap:
 * onnx/{audio,text}_model<suffix>.onnx; t5/mt5: onnx/{encoder_model,decoder_model_merged}<suffix>.onnx),
 * with the dtype suffixes of transformers.js (`_fp16`, `_quantized`, …), their external-data files,
 * and the tokenizer/preprocessor JSON files; other variants and the joint `model.onnx` are left.
 *
 * Downloads go through the project's HTTP client (infra/http: timeouts, retries with backoff, every
 * redirect hop checked against the allowed hosts, Authorization dropped when the host changes) into
 * `<path>.part`, continued with HTTP Range after an interruption (within a run and across runs), and
 * renamed only after the size and hash check out — a folder never holds a half file under its real
 * name. A hash mismatch deletes the `.part` and fails. HF_TOKEN (environment only) is sent to the
 * hub for gated models and never logged.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import { createHttpClient, definePolicy, type HttpClient, type HttpTuning } from '../http/index.ts';
import { assertHubId, DTYPE_SUFFIX, modelsRoot, type ModelDtype } from './model-dir.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** Where the Hub sends LFS downloads (cdn-lfs.huggingface.co, cdn-lfs-us-1.hf.co, cas-bridge.xethub.hf.co). */
const HUB_DOWNLOAD_HOSTS = ['*.huggingface.co', '*.hf.co'];

/** The graphs each model type loads (workers/embed/clap-model.ts, infra/models/model-dir.ts seq2seqFiles). */
const GRAPHS: Record<string, readonly string[]> = {
  clap: ['audio_model', 'text_model'],
  t5: ['encoder_model', 'decoder_model_merged'],
  mt5: ['encoder_model', 'decoder_model_merged'],
};

/** The JSON files a folder needs besides its graphs (those the repository has). */
const FOLDER_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json'];

export interface PullOptions {
  id: string;
  /** Folder to fill; default `<models root>/<id>`. */
  dest?: string;
  /** Hub base URL; default CLAPSET_HUB_URL, else huggingface.co. */
  baseUrl?: string;
  /** Branch, tag or commit; resolved to a commit first. Default main. */
  revision?: string;
  /** ONNX variants to fetch (transformers.js dtype names). Default fp32. */
  dtypes?: readonly ModelDtype[];
  /** Hosts the hub's download redirects may reach besides the hub itself and the Hub's CDNs (a mirror's). */
  downloadHosts?: readonly string[];
  /** The HTTP client's shared state (rate limit and counters under `<prefix>:…:hub`), and test tuning. */
  http: { redis: Redis; prefix: string; tuning?: HttpTuning };
  env?: NodeJS.ProcessEnv;
  /** After each file. */
  onProgress?: (event: { path: string; files: number; of: number }) => void;
}

export interface PulledFile {
  path: string;
  size: number;
  sha256: string;
  /** What the download was checked against: the LFS sha256, or the git blob id of a small file. */
  verified: 'sha256' | 'git-oid';
  /** Bytes already on disk (a `.part`) that the download continued; 0 for a fresh one. */
  resumedFrom: number;
  /** True when an identical file was already in place. */
  skipped: boolean;
}

export interface PullResult {
  id: string;
  dir: string;
  /** The commit the files came from. */
  revision: string;
  modelType: string;
  files: PulledFile[];
}

interface RemoteFile {
  path: string;
  size: number;
  /** sha256 (LFS files) or git blob sha1 (others). */
  hash: string;
  kind: 'sha256' | 'git-oid';
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  assertHubId(options.id);
  const env = options.env ?? process.env;
  const base = (options.baseUrl ?? env.CLAPSET_HUB_URL ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const hubHost = new URL(base).host;
  const requested = options.revision ?? 'main';
  const dtypes = options.dtypes ?? ['fp32'];
  for (const dtype of dtypes) if (!(dtype in DTYPE_SUFFIX)) throw new Error(`unknown dtype ${JSON.stringify(dtype)} (one of ${Object.keys(DTYPE_SUFFIX).join(', ')})`);
  const dir = options.dest ?? join(modelsRoot(env), ...options.id.split('/'));
  const auth: Record<string, string> = env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {};
  const client = createHttpClient({
    redis: options.http.redis,
    prefix: options.http.prefix,
    // One window longer than the limiter's cold-start rule (10 min), so a pull starts at once; a pull
    // makes a few dozen requests, far below the Hub's limits.
    policy: definePolicy({ provider: 'hub', allowedHosts: [hubHost, ...HUB_DOWNLOAD_HOSTS, ...(options.downloadHosts ?? [])], rate: [{ limit: 3000, windowMs: 3_600_000 }], ...options.http.tuning }),
  });
  const where = `${options.id}@${requested} at ${base}`;

  const commit = await resolveCommit(client, base, options.id, requested, auth, where);
  const tree = await listTree(client, base, options.id, commit, auth, where);
  const fileUrl = (path: string): string => `${base}/${options.id}/resolve/${commit}/${path.split('/').map(encodeURIComponent).join('/')}`;

  await mkdir(dir, { recursive: true });
  const config = tree.get('config.json');
  if (!config) throw new Error(`${where}: the repository has no config.json — not a model folder in the transformers.js layout`);
  const pulledConfig = await pullFile(client, fileUrl('config.json'), join(dir, 'config.json'), config, auth);
  const modelType = (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { model_type?: unknown }).model_type;
  const stems = typeof modelType === 'string' ? GRAPHS[modelType] : undefined;
  if (typeof modelType !== 'string' || stems === undefined) {
    throw new Error(`${where}: config.json model_type ${JSON.stringify(modelType)} is not one clapset loads (${Object.keys(GRAPHS).join(', ')})`);
  }
  const wanted = selectFiles(tree, stems, dtypes, where);
  const pulled: PulledFile[] = [pulledConfig];
  for (const [i, file] of wanted.entries()) {
    pulled.push(await pullFile(client, fileUrl(file.path), join(dir, ...file.path.split('/')), file, auth));
    options.onProgress?.({ path: file.path, files: i + 2, of: wanted.length + 1 });
  }
  await writeFile(
    join(dir, 'clapset-pull.json'),
    `${JSON.stringify({ id: options.id, revision: commit, requested_revision: requested, hub: base, model_type: modelType, dtypes, files: pulled.map(({ path, size, sha256 }) => ({ path, size, sha256 })) }, null, 2)}\n`,
  );
  return { id: options.id, dir, revision: commit, modelType, files: pulled };
}

function statusProblem(status: number): string {
  return `HTTP ${status}${status === 401 || status === 403 ? ' (set HF_TOKEN for gated or private models)' : status === 404 ? ' (no such model or revision)' : ''}`;
}

async function resolveCommit(client: HttpClient, base: string, id: string, revision: string, auth: Record<string, string>, where: string): Promise<string> {
  const response = await client.request(`${base}/api/models/${id}/revision/${encodeURIComponent(revision)}`, { headers: auth });
  if (response.status !== 200) throw new Error(`${where}: model info answered ${statusProblem(response.status)}`);
  const sha = (response.json() as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`${where}: the model info names no commit (sha ${JSON.stringify(sha)})`);
  return sha;
}

/** Every file of the commit, by path, following the tree listing's pages. */
async function listTree(client: HttpClient, base: string, id: string, commit: string, auth: Record<string, string>, where: string): Promise<Map<string, RemoteFile>> {
  const files = new Map<string, RemoteFile>();
  let url: string | null = `${base}/api/models/${id}/tree/${commit}?recursive=true`;
  for (let page = 0; url !== null; page++) {
    if (page >= 1000) throw new Error(`${where}: the tree listing does not end`);
    const response = await client.request(url, { headers: auth });
    if (response.status !== 200) throw new Error(`${where}: tree listing answered ${statusProblem(response.status)}`);
    const entries = response.json();
    if (!Array.isArray(entries)) throw new Error(`${where}: the tree listing is not a list`);
    for (const entry of entries as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: { oid?: unknown; size?: unknown } }[]) {
      if (entry.type !== 'file' || typeof entry.path !== 'string') continue;
      assertSafePath(entry.path);
      const lfs = entry.lfs && typeof entry.lfs.oid === 'string' && typeof entry.lfs.size === 'number' ? { oid: entry.lfs.oid, size: entry.lfs.size } : null;
      if (lfs) files.set(entry.path, { path: entry.path, size: lfs.size, hash: lfs.oid.toLowerCase(), kind: 'sha256' });
      else if (typeof entry.oid === 'string' && typeof entry.size === 'number') files.set(entry.path, { path: entry.path, size: entry.size, hash: entry.oid.toLowerCase(), kind: 'git-oid' });
      else throw new Error(`${where}: tree entry ${entry.path} has neither an lfs oid nor a git oid with a size`);
    }
    url = nextLink(response.headers.link, url);
  }
  return files;
}

/** `Link: <https://…&cursor=…>; rel="next"` → the next page's URL, resolved against the current one. */
function nextLink(header: string | string[] | undefined, current: string): string | null {
  for (const part of (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return new URL(match[1]!, current).href;
  }
  return null;
}

/** The folder's JSON files and, per dtype, each graph with its external data; an error names what is missing. */
function selectFiles(tree: Map<string, RemoteFile>, stems: readonly string[], dtypes: readonly ModelDtype[], where: string): RemoteFile[] {
  const selected = FOLDER_FILES.filter((path) => path !== 'config.json' && tree.has(path)).map((path) => tree.get(path)!);
  for (const required of ['tokenizer.json', 'tokenizer_config.json']) if (!tree.has(required)) throw new Error(`${where}: the repository has no ${required}`);
  const missing: string[] = [];
  for (const dtype of dtypes) {
    for (const stem of stems) {
      const graph = `onnx/${stem}${DTYPE_SUFFIX[dtype]}.onnx`;
      if (!tree.has(graph)) missing.push(graph);
      else selected.push(tree.get(graph)!, ...[`${graph}_data`, `${graph}.data`].filter((path) => tree.has(path)).map((path) => tree.get(path)!));
    }
  }
  if (missing.length > 0) {
    const present = (Object.keys(DTYPE_SUFFIX) as ModelDtype[]).filter((dtype) => stems.every((stem) => tree.has(`onnx/${stem}${DTYPE_SUFFIX[dtype]}.onnx`)));
    throw new Error(`${where}: no ${missing.join(', ')} (dtypes this repository has for ${stems.join(' + ')}: ${present.length > 0 ? present.join(', ') : 'none — not an ONNX export in the transformers.js layout'})`);
  }
  return selected;
}

/** Relative, forward-slash, no `..`/empty segments: a listing cannot write outside the folder. */
function assertSafePath(path: string): void {
  const parts = path.split('/');
  if (path.startsWith('/') || path.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..') || posix.normalize(path) !== path) {
    throw new Error(`refusing hub file path ${JSON.stringify(path)}`);
  }
}

async function pullFile(client: HttpClient, url: string, target: string, file: RemoteFile, auth: Record<string, string>): Promise<PulledFile> {
  const existing = await stat(target).catch(() => null);
  if (existing?.isFile() && existing.size === file.size) {
    const hashes = await hashFile(target);
    if (matches(file, hashes)) return { path: file.path, size: file.size, sha256: hashes.sha256, verified: file.kind, resumedFrom: 0, skipped: true };
  }
  await mkdir(dirname(target), { recursive: true });
  const part = `${target}.part`;
  const partSize = (await stat(part).catch(() => null))?.size ?? 0;
  if (partSize > file.size) await truncate(part, 0); // longer than the file: not a prefix of it
  let resumedFrom = Math.min(partSize, file.size);
  if (file.size === 0) await writeFile(part, '');
  else if (resumedFrom < file.size) {
    // maxBytes = the listed size: a server sending more is cut off rather than filling the disk.
    resumedFrom = (await client.download(url, part, { maxBytes: file.size, headers: auth, resume: true })).resumedFrom;
  }
  const size = (await stat(part)).size;
  const hashes = await hashFile(part);
  if (size !== file.size || !matches(file, hashes)) {
    await rm(part, { force: true });
    const got = file.kind === 'sha256' ? hashes.sha256 : hashes.gitOid;
    throw new Error(`${file.path}: ${size !== file.size ? `size mismatch: expected ${file.size} bytes, got ${size}` : `${file.kind} mismatch: expected ${file.hash}, got ${got}`}; the partial file was removed`);
  }
  await rename(part, target);
  return { path: file.path, size, sha256: hashes.sha256, verified: file.kind, resumedFrom, skipped: false };
}

function matches(file: RemoteFile, hashes: { sha256: string; gitOid: string }): boolean {
  return file.hash === (file.kind === 'sha256' ? hashes.sha256 : hashes.gitOid);
}

/** sha256 of the bytes and their git blob id (sha1 of `blob <size>\0` + bytes), in one read. */
async function hashFile(path: string): Promise<{ sha256: string; gitOid: string }> {
  const { size } = await stat(path);
  const sha256 = createHash('sha256');
  const git = createHash('sha1').update(`blob ${size}\0`);
  await pipeline(createReadStream(path), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      sha256.update(chunk);
      git.update(chunk);
    }
  });
  return { sha256: sha256.digest('hex'), gitOid: git.digest('hex') };
}
