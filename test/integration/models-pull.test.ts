/**
 * `clapset models pull` against a local imitation of the Hugging Face Hub on loopback, shaped as
 * huggingface.js reads the real one (packages/hub/src/lib/model-info.ts, list-files.ts,
 * file-download-info.ts): `/api/models/<id>/revision/<rev>` (sha, siblings), a paginated
 * `/api/models/<id>/tree/<commit>?recursive=true` (type, path, size, oid, lfs {oid, size,
 * pointerSize}; Link rel="next"), `/<id>/resolve/<commit>/<path>` answering small files itself and
 * redirecting LFS files (302, X-Linked-Etag, X-Repo-Commit) to a second server, the "CDN", that
 * serves Range requests. One CLAP and one T5 repository in the transformers.js layout.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';
import { resolveModelDir } from '../../infra/models/model-dir.ts';
import { pullModel, type PullOptions } from '../../infra/models/pull.ts';
import { createCaptioner } from '../../workers/caption/captioner.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const CLAP_ID = 'clapset-test/tiny-clap';
const T5_ID = 'clapset-test/tiny-t5';
const BERT_ID = 'clapset-test/tiny-bert';
const COMMITS: Record<string, string> = {
  [CLAP_ID]: 'a28f2883575e590e04d3146ff0713c2448d691ba',
  [T5_ID]: '0123456789abcdef0123456789abcdef01234567',
  [BERT_ID]: 'fedcba9876543210fedcba9876543210fedcba98',
};
const TOKEN = 'hf_testtoken_0123456789';

interface Logged {
  path: string;
  search: string;
  range: string | null;
  authorization: string | null;
}

interface Hub {
  /** Every request to the hub and to the CDN. */
  hub: Logged[];
  cdn: Logged[];
  /** CDN paths (repo file paths) whose next download is cut off halfway. */
  cutOnce: Set<string>;
  ignoreRange: boolean;
  /** Repo file paths the tree advertises with a wrong hash. */
  wrongHash: Set<string>;
  /** Extra tree entries (hostile paths). */
  extraEntries: Record<string, unknown>[];
}

let root: string;
const repos = new Map<string, Map<string, Buffer>>();
const bySha = new Map<string, { path: string; bytes: Buffer }>();
let hubServer: Server;
let cdnServer: Server;
let hubUrl: string;
let cdnHost: string;
let state: Hub;
const ctx = testQueueContext();

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const gitOid = (bytes: Buffer): string => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const isLfs = (path: string): boolean => /\.onnx(_data)?$/.test(path);

async function readFolder(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.set(relative(dir, path).split('\\').join('/'), await readFile(path));
    }
  };
  await walk(dir);
  return files;
}

function log(request: IncomingMessage, url: URL): Logged {
  return { path: decodeURIComponent(url.pathname), search: url.search, range: request.headers.range ?? null, authorization: request.headers.authorization ?? null };
}

/** The tree listing of a repository, 4 entries a page, directories included as the Hub lists them. */
function treeEntries(id: string): Record<string, unknown>[] {
  const files = repos.get(id)!;
  const entries: Record<string, unknown>[] = [{ type: 'directory', oid: gitOid(Buffer.from(id)), size: 0, path: 'onnx' }];
  for (const [path, bytes] of files) {
    const tampered = state.wrongHash.has(path) ? Buffer.from('tampered') : bytes;
    entries.push(
      isLfs(path)
        ? { type: 'file', oid: gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(bytes)}\n`)), size: bytes.length, path, lfs: { oid: sha256(tampered), size: bytes.length, pointerSize: 134 } }
        : { type: 'file', oid: gitOid(tampered), size: bytes.length, path },
    );
  }
  return [...entries, ...state.extraEntries];
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-pull-'));
  const clap = await readFolder((await forgeTinyClap(join(root, 'source-clap'), { seed: 3 })).dir);
  const clapQ8 = await readFolder((await forgeTinyClap(join(root, 'source-clap-q8'), { seed: 5 })).dir);
  // The Xenova CLAP repositories also hold the joint model, other dtypes, a README and .gitattributes.
  clap.set('onnx/audio_model_quantized.onnx', clapQ8.get('onnx/audio_model.onnx')!);
  clap.set('onnx/text_model_quantized.onnx', clapQ8.get('onnx/text_model.onnx')!);
  clap.set('onnx/model.onnx', Buffer.from('the joint model: not fetched'));
  clap.set('onnx/model_fp16.onnx', Buffer.from('not fetched either'));
  clap.set('README.md', Buffer.from('# tiny clap\n'));
  clap.set('.gitattributes', Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n'));
  repos.set(CLAP_ID, clap);
  const t5 = await readFolder((await forgeTinyT5(join(root, 'source-t5'), { seed: 3 })).dir);
  t5.set('onnx/decoder_model.onnx', Buffer.from('decoder without cache: not fetched'));
  t5.set('onnx/decoder_with_past_model.onnx', Buffer.from('not fetched'));
  t5.set('onnx/encoder_model_quantized.onnx', Buffer.from('half a q8 pair'));
  t5.set('README.md', Buffer.from('# tiny t5\n'));
  repos.set(T5_ID, t5);
  repos.set(BERT_ID, new Map([['config.json', Buffer.from('{"model_type":"bert"}')], ['tokenizer.json', Buffer.from('{}')], ['onnx/model.onnx', Buffer.from('x')]]));
  for (const files of repos.values()) for (const [path, bytes] of files) bySha.set(sha256(bytes), { path, bytes });

  cdnServer = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://cdn');
    state.cdn.push(log(request, url));
    const found = bySha.get(/^\/repos\/([0-9a-f]{64})$/.exec(url.pathname)?.[1] ?? '');
    if (!found || url.searchParams.get('X-Amz-Signature') !== 'signed') return void response.writeHead(403).end('<Error>AccessDenied</Error>');
    const { path, bytes } = found;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && !state.ignoreRange) {
      const start = Number(range[1]);
      if (start >= bytes.length) return void response.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      response.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`, 'accept-ranges': 'bytes' });
      return void response.end(bytes.subarray(start));
    }
    response.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes', etag: `"${sha256(bytes)}"` });
    if (state.cutOnce.delete(path)) {
      // The connection drops a moment after half the body went out, as a flaky network would.
      response.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => response.socket?.destroy(), 50));
      return;
    }
    response.end(bytes);
  });
  hubServer = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://hub');
    state.hub.push(log(request, url));
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => void response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (info) {
      const [, id, revision] = info as unknown as [string, string, string];
      if (!repos.has(id)) return json(404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      if (revision !== 'main' && revision !== COMMITS[id]) return json(404, { error: `Invalid rev id: ${revision}` }, { 'x-error-code': 'RevisionNotFound' });
      const files = repos.get(id)!;
      const modelType = (JSON.parse(files.get('config.json')!.toString()) as { model_type: string }).model_type;
      return json(200, { _id: `64${COMMITS[id]!.slice(0, 22)}`, id, private: false, gated: false, sha: COMMITS[id], library_name: 'transformers.js', config: { model_type: modelType }, siblings: [...files.keys()].map((rfilename) => ({ rfilename })) });
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) {
      const [, id, revision] = tree as unknown as [string, string, string];
      if (!repos.has(id) || revision !== COMMITS[id]) return json(404, { error: 'Invalid rev id' });
      const entries = treeEntries(id);
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const next: Record<string, string> = cursor + 4 < entries.length ? { link: `<${hubUrl}/api/models/${id}/tree/${revision}?recursive=true&cursor=${cursor + 4}>; rel="next"` } : {};
      return json(200, entries.slice(cursor, cursor + 4), next);
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const bytes = resolve ? repos.get(resolve[1]!)?.get(decodeURIComponent(resolve[3]!)) : undefined;
    if (!resolve || !bytes) return void response.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    const headers = { 'x-repo-commit': COMMITS[resolve[1]!]! };
    if (isLfs(decodeURIComponent(resolve[3]!))) {
      return void response.writeHead(302, { ...headers, location: `http://${cdnHost}/repos/${sha256(bytes)}?X-Amz-Signature=signed`, 'x-linked-etag': `"${sha256(bytes)}"`, 'x-linked-size': String(bytes.length) }).end();
    }
    response.writeHead(200, { ...headers, 'content-length': bytes.length, etag: `"${gitOid(bytes)}"` }).end(bytes);
  });
  await Promise.all([hubServer, cdnServer].map((server) => new Promise<void>((done) => server.listen(0, '127.0.0.1', done))));
  hubUrl = `http://127.0.0.1:${(hubServer.address() as AddressInfo).port}`;
  cdnHost = `127.0.0.1:${(cdnServer.address() as AddressInfo).port}`;
});

beforeEach(() => {
  state = { hub: [], cdn: [], cutOnce: new Set(), ignoreRange: false, wrongHash: new Set(), extraEntries: [] };
});

after(async () => {
  await Promise.all([hubServer, cdnServer].map((server) => new Promise<void>((done) => server.close(() => done()))));
  await ctx.close();
  await rm(root, { recursive: true, force: true });
});

async function freshDest(name: string): Promise<string> {
  const dest = join(root, name);
  await rm(dest, { recursive: true, force: true });
  return dest;
}

/** Options every pull here shares: the hub imitation, its CDN allowed, quick retries. */
function pull(options: Partial<PullOptions> & Pick<PullOptions, 'id'>): ReturnType<typeof pullModel> {
  return pullModel({
    baseUrl: hubUrl,
    downloadHosts: [cdnHost],
    env: {},
    http: { redis: ctx.connection, prefix: ctx.prefix, tuning: { backoff: { baseMs: 20, capMs: 50, retryAfterCapMs: 100 } } },
    ...options,
  });
}

const CLAP_FP32 = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/audio_model.onnx', 'onnx/text_model.onnx'];

describe('models pull: CLAP', () => {
  it('fetches the CLAP files of the resolved commit, LFS graphs from the CDN host without the token, and the folder loads by id', async () => {
    const modelsRoot = join(root, 'models-root');
    const result = await pull({ id: CLAP_ID, env: { CLAPSET_MODELS_DIR: modelsRoot, HF_TOKEN: TOKEN } });
    assert.equal(result.dir, join(modelsRoot, 'clapset-test', 'tiny-clap'));
    assert.equal(result.revision, COMMITS[CLAP_ID]);
    assert.equal(result.modelType, 'clap');
    assert.deepEqual(result.files.map((f) => f.path).sort(), [...CLAP_FP32].sort());
    for (const file of result.files) {
      assert.deepEqual(await readFile(join(result.dir, file.path)), repos.get(CLAP_ID)!.get(file.path), file.path);
      assert.equal(file.verified, isLfs(file.path) ? 'sha256' : 'git-oid', file.path);
    }
    const resolves = state.hub.filter((r) => r.path.includes('/resolve/'));
    assert.ok(resolves.length === CLAP_FP32.length && resolves.every((r) => r.path.startsWith(`/${CLAP_ID}/resolve/${COMMITS[CLAP_ID]}/`)), 'every file from the commit, none from resolve/main');
    assert.deepEqual(state.hub.filter((r) => r.path.includes('/tree/')).map((r) => r.search), ['?recursive=true', '?recursive=true&cursor=4', '?recursive=true&cursor=8', '?recursive=true&cursor=12']);
    assert.ok(state.hub.every((r) => r.authorization === `Bearer ${TOKEN}`), 'the hub gets the token');
    assert.deepEqual(state.cdn.map((r) => bySha.get(r.path.slice('/repos/'.length))?.path).sort(), ['onnx/audio_model.onnx', 'onnx/text_model.onnx']);
    assert.ok(state.cdn.every((r) => r.authorization === null), 'the CDN never sees the token');
    const record = JSON.parse(await readFile(join(result.dir, 'clapset-pull.json'), 'utf8')) as { revision: string; model_type: string; files: unknown[] };
    assert.deepEqual([record.revision, record.model_type, record.files.length], [COMMITS[CLAP_ID], 'clap', CLAP_FP32.length]);

    const pulled = await ClapEmbedder.load((await resolveModelDir(CLAP_ID, { CLAPSET_MODELS_DIR: modelsRoot })).dir, { threads: 1 });
    const source = await ClapEmbedder.load(join(root, 'source-clap'), { threads: 1 });
    try {
      assert.deepEqual(await pulled.embedText(['a dog barks', 'rain']), await source.embedText(['a dog barks', 'rain']));
    } finally {
      await Promise.all([pulled.close(), source.close()]);
    }

    // A second pull finds every file in place and downloads nothing.
    state.hub = [];
    state.cdn = [];
    const again = await pull({ id: CLAP_ID, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    assert.ok(again.files.every((f) => f.skipped));
    assert.ok(state.hub.every((r) => r.path.startsWith('/api/')) && state.cdn.length === 0);
  });

  it('--dtype q8 picks the _quantized graphs, which load with dtype q8', async () => {
    const dest = await freshDest('clap-q8');
    const result = await pull({ id: CLAP_ID, dest, dtypes: ['q8'] });
    assert.deepEqual(result.files.filter((f) => f.path.startsWith('onnx/')).map((f) => f.path).sort(), ['onnx/audio_model_quantized.onnx', 'onnx/text_model_quantized.onnx']);
    const q8 = await ClapEmbedder.load(dest, { dtype: 'q8', threads: 1 });
    const source = await ClapEmbedder.load(join(root, 'source-clap-q8'), { threads: 1 });
    try {
      assert.deepEqual(await q8.embedText(['a cat meows']), await source.embedText(['a cat meows']));
    } finally {
      await Promise.all([q8.close(), source.close()]);
    }
    await assert.rejects(pull({ id: CLAP_ID, dest: await freshDest('clap-q4'), dtypes: ['q4'] }), /no onnx\/audio_model_q4\.onnx, onnx\/text_model_q4\.onnx \(dtypes this repository has for audio_model \+ text_model: fp32, q8\)/);
  });

  it('continues a .part left by an earlier run with a Range request to the CDN', async () => {
    const dest = await freshDest('resume');
    const path = 'onnx/audio_model.onnx';
    const bytes = repos.get(CLAP_ID)!.get(path)!;
    await mkdir(join(dest, 'onnx'), { recursive: true });
    await writeFile(join(dest, `${path}.part`), bytes.subarray(0, 1000));
    const result = await pull({ id: CLAP_ID, dest });
    const pulled = result.files.find((f) => f.path === path);
    assert.deepEqual([pulled?.resumedFrom, pulled?.verified], [1000, 'sha256']);
    assert.deepEqual(state.cdn.filter((r) => r.path === `/repos/${sha256(bytes)}`).map((r) => r.range), ['bytes=1000-']);
    assert.deepEqual(await readFile(join(dest, path)), bytes);
    await assert.rejects(stat(join(dest, `${path}.part`)), /ENOENT/);
  });

  it('retries a download cut off mid-body, continuing from where it stopped', async () => {
    const dest = await freshDest('cut');
    const path = 'onnx/text_model.onnx';
    const bytes = repos.get(CLAP_ID)!.get(path)!;
    state.cutOnce.add(path);
    const result = await pull({ id: CLAP_ID, dest });
    const ranges = state.cdn.filter((r) => r.path === `/repos/${sha256(bytes)}`).map((r) => r.range);
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0], null);
    assert.match(ranges[1] ?? '', /^bytes=[1-9]\d*-$/);
    assert.ok(Number(/\d+/.exec(ranges[1]!)![0]) >= Math.floor(bytes.length / 2) - 65536, 'continued near the cut, not from the start');
    assert.deepEqual(await readFile(join(dest, path)), bytes);
    assert.ok((result.files.find((f) => f.path === path)?.resumedFrom ?? 0) > 0);
  });

  it('starts over when the download host ignores Range', async () => {
    const dest = await freshDest('no-range');
    const path = 'onnx/audio_model.onnx';
    await mkdir(join(dest, 'onnx'), { recursive: true });
    await writeFile(join(dest, `${path}.part`), Buffer.from('stale bytes that must not stay in front'));
    state.ignoreRange = true;
    const result = await pull({ id: CLAP_ID, dest });
    assert.deepEqual(await readFile(join(dest, path)), repos.get(CLAP_ID)!.get(path));
    assert.equal(result.files.find((f) => f.path === path)?.resumedFrom, 0);
  });

  it('fails on a sha256 (LFS) or git-oid mismatch and leaves neither the file nor its .part', async () => {
    const dest = await freshDest('bad-sha');
    state.wrongHash.add('onnx/audio_model.onnx');
    await assert.rejects(pull({ id: CLAP_ID, dest }), /onnx\/audio_model\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/);
    await assert.rejects(stat(join(dest, 'onnx/audio_model.onnx')), /ENOENT/);
    await assert.rejects(stat(join(dest, 'onnx/audio_model.onnx.part')), /ENOENT/);
    state.wrongHash = new Set(['tokenizer.json']);
    await assert.rejects(pull({ id: CLAP_ID, dest: await freshDest('bad-oid') }), /tokenizer\.json: git-oid mismatch: expected [0-9a-f]{40}, got [0-9a-f]{40}/);
  });
});

describe('models pull: T5 and refusals', () => {
  it('fetches the T5 encoder and merged decoder, and the folder captions by id with the commit as provenance', async () => {
    const modelsRoot = join(root, 'models-root');
    const result = await pull({ id: T5_ID, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    assert.equal(result.modelType, 't5');
    assert.deepEqual(result.files.map((f) => f.path).sort(), ['config.json', 'generation_config.json', 'onnx/decoder_model_merged.onnx', 'onnx/encoder_model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    assert.ok(state.cdn.length === 2 && state.hub.every((r) => !/README|decoder_model\.onnx|with_past|quantized/.test(r.path)), 'unneeded files not fetched');
    const captioner = await createCaptioner({ model: T5_ID, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    const fromSource = await createCaptioner({ model: join(root, 'source-t5'), env: {} });
    try {
      assert.equal(captioner.provenance.model_revision, COMMITS[T5_ID]);
      assert.deepEqual(await captioner.caption([['dog', 'bark']]), await fromSource.caption([['dog', 'bark']]));
    } finally {
      await Promise.all([captioner.close(), fromSource.close()]);
    }
    await assert.rejects(pull({ id: T5_ID, dest: await freshDest('t5-q8'), dtypes: ['q8'] }), /no onnx\/decoder_model_merged_quantized\.onnx \(dtypes this repository has for encoder_model \+ decoder_model_merged: fp32\)/);
  });

  it('refuses unknown models, unknown revisions, other model types, hostile paths, bad ids and redirects to hosts not allowed', async () => {
    await assert.rejects(pull({ id: 'clapset-test/absent', dest: await freshDest('absent') }), /clapset-test\/absent@main at .*: model info answered HTTP 404 \(no such model or revision\)/);
    await assert.rejects(pull({ id: T5_ID, dest: await freshDest('rev'), revision: 'v9' }), /@v9 .*HTTP 404/);
    await assert.rejects(pull({ id: BERT_ID, dest: await freshDest('bert') }), /config\.json model_type "bert" is not one clapset loads \(clap, t5, mt5\)/);
    await assert.rejects(pull({ id: '../etc' }), /not a model id/);
    state.extraEntries = [{ type: 'file', oid: 'a'.repeat(40), size: 3, path: '../escape.json' }];
    await assert.rejects(pull({ id: T5_ID, dest: await freshDest('hostile') }), /refusing hub file path "\.\.\/escape\.json"/);
    state.extraEntries = [];
    await assert.rejects(pull({ id: T5_ID, dest: await freshDest('no-cdn'), downloadHosts: [] }), /refused redirect from .*\/resolve\/.* to http:\/\/127\.0\.0\.1:\d+\/repos\/[0-9a-f]+.*host not allowed for provider hub/);
  });

  it('clapset models pull: prints the commit and file count; a bad --dtype is refused before any request', async () => {
    const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_MODELS_DIR: join(root, 'cli-models') };
    const ok = await runCli(['models', 'pull', CLAP_ID, '--hub', hubUrl, '--download-host', cdnHost, '--dtype', 'fp32,q8'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${CLAP_ID}@${COMMITS[CLAP_ID]} \\(clap\\): 9 files in .*cli-models/clapset-test/tiny-clap \\(9 downloaded, 0 already there\\)$`, 'm'));
    state.hub = [];
    const bad = await runCli(['models', 'pull', CLAP_ID, '--hub', hubUrl, '--dtype', 'fp64'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--dtype fp64: not one of fp32, fp16, q8/);
    assert.equal(state.hub.length, 0);
  });
});
