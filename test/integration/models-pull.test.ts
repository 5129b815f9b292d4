/**
 * `clapset models pull` against a local HTTP server that imitates a Hugging Face-style hub:
 * `/api/models/<id>` listings with lfs sha256/size, `/<id>/resolve/<revision>/<path>` with Range.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';
import { pullModel } from '../../infra/models/pull.ts';
import { createCaptioner } from '../../workers/caption/captioner.ts';

const ID = 'clapset-test/tiny-t5';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx'];

interface Hub {
  url: string;
  requests: { path: string; range: string | null }[];
  /** Paths whose next download is cut off halfway (headers promise the whole file). */
  cutOnce: Set<string>;
  ignoreRange: boolean;
  /** Paths the listing advertises with a wrong sha256. */
  wrongSha: Set<string>;
  extraSiblings: { rfilename: string; size?: number }[];
}

let root: string;
let source: string;
let files: Map<string, Buffer>;
let server: Server;
let hub: Hub;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-pull-'));
  source = (await forgeTinyT5(join(root, 'source'), { seed: 3 })).dir;
  files = new Map();
  for (const path of MODEL_FILES) files.set(path, await readFile(join(source, path)));
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://hub');
    hub.requests.push({ path: url.pathname, range: request.headers.range ?? null });
    const listing = /^\/api\/models\/(.+?)(?:\/revision\/([^/]+))?$/.exec(url.pathname);
    if (listing) {
      if (listing[1] !== ID) return void response.writeHead(404).end('{"error":"Repository not found"}');
      const siblings = [...files].map(([path, bytes]) => {
        const sha = createHash('sha256').update(hub.wrongSha.has(path) ? 'tampered' : bytes).digest('hex');
        // Like the Hub: large (LFS) files carry lfs.sha256 and size; small ones only a size.
        return path.endsWith('.onnx') ? { rfilename: path, size: bytes.length, lfs: { sha256: sha, size: bytes.length, pointerSize: 134 } } : { rfilename: path, size: bytes.length };
      });
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: ID, sha: COMMIT, siblings: [...siblings, ...hub.extraSiblings] }));
    }
    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const bytes = resolve && resolve[1] === ID ? files.get(decodeURIComponent(resolve[3] ?? '')) : undefined;
    if (!resolve || !bytes) return void response.writeHead(404).end('Entry not found');
    const path = decodeURIComponent(resolve[3] as string);
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && !hub.ignoreRange) {
      const start = Number(range[1]);
      if (start >= bytes.length) return void response.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      response.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`, 'accept-ranges': 'bytes' });
      return void response.end(bytes.subarray(start));
    }
    response.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes' });
    if (hub.cutOnce.delete(path)) {
      // The connection drops a moment after half the body went out, as a flaky network would.
      response.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => response.socket?.destroy(), 50));
      return;
    }
    response.end(bytes);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
});

beforeEach(() => {
  hub = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: [], cutOnce: new Set(), ignoreRange: false, wrongSha: new Set(), extraSiblings: [] };
});

after(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  await rm(root, { recursive: true, force: true });
});

async function freshDest(name: string): Promise<string> {
  const dest = join(root, name);
  await rm(dest, { recursive: true, force: true });
  return dest;
}

describe('models pull', () => {
  it('fetches the listed model files with sha256 checks, records the revision, and the folder captions by id', async () => {
    hub.extraSiblings = [{ rfilename: 'README.md', size: 10 }, { rfilename: 'onnx/encoder_model_quantized.onnx', size: 10 }, { rfilename: 'onnx/decoder_model.onnx', size: 10 }];
    const modelsRoot = join(root, 'models-root');
    const result = await pullModel({ id: ID, baseUrl: hub.url, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    assert.equal(result.dir, join(modelsRoot, 'clapset-test', 'tiny-t5'));
    assert.equal(result.revision, COMMIT);
    assert.deepEqual(result.files.map((f) => f.path).sort(), [...MODEL_FILES].sort());
    for (const file of result.files) {
      assert.deepEqual(await readFile(join(result.dir, file.path)), files.get(file.path), file.path);
      assert.equal(file.verified, file.path.endsWith('.onnx') ? 'sha256' : 'size');
    }
    assert.ok(hub.requests.some((r) => r.path === `/api/models/${ID}`));
    assert.ok(hub.requests.every((r) => !/README|quantized|decoder_model\.onnx/.test(r.path)), 'unneeded files fetched');
    const record = JSON.parse(await readFile(join(result.dir, 'clapset-pull.json'), 'utf8')) as { revision: string; files: unknown[] };
    assert.equal(record.revision, COMMIT);
    assert.equal(record.files.length, MODEL_FILES.length);

    const captioner = await createCaptioner({ model: ID, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    try {
      assert.equal(captioner.provenance.model, ID);
      assert.equal(captioner.provenance.model_revision, COMMIT);
      const fromSource = await createCaptioner({ model: source, env: {} });
      assert.deepEqual(await captioner.caption([['dog', 'bark']]), await fromSource.caption([['dog', 'bark']]));
      await fromSource.close();
    } finally {
      await captioner.close();
    }

    // A second pull finds every file in place and downloads nothing.
    hub.requests = [];
    const again = await pullModel({ id: ID, baseUrl: hub.url, env: { CLAPSET_MODELS_DIR: modelsRoot } });
    assert.ok(again.files.every((f) => f.skipped));
    assert.ok(hub.requests.every((r) => r.path.startsWith('/api/')));
  });

  it('resumes a .part with a Range request', async () => {
    const dest = await freshDest('resume');
    const path = 'onnx/decoder_model_merged.onnx';
    const bytes = files.get(path) as Buffer;
    await mkdir(join(dest, 'onnx'), { recursive: true });
    await writeFile(join(dest, `${path}.part`), bytes.subarray(0, 1000));
    const result = await pullModel({ id: ID, baseUrl: hub.url, dest });
    const pulled = result.files.find((f) => f.path === path);
    assert.equal(pulled?.resumedFrom, 1000);
    assert.equal(pulled?.verified, 'sha256');
    assert.deepEqual(hub.requests.filter((r) => r.path.endsWith(path)).map((r) => r.range), ['bytes=1000-']);
    assert.deepEqual(await readFile(join(dest, path)), bytes);
    await assert.rejects(stat(join(dest, `${path}.part`)), /ENOENT/);
  });

  it('retries a download cut off mid-body, continuing from where it stopped', async () => {
    const dest = await freshDest('cut');
    const path = 'onnx/encoder_model.onnx';
    hub.cutOnce.add(path);
    const result = await pullModel({ id: ID, baseUrl: hub.url, dest });
    const ranges = hub.requests.filter((r) => r.path.endsWith(path)).map((r) => r.range);
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0], null);
    assert.match(ranges[1] ?? '', /^bytes=[1-9]\d*-$/);
    assert.deepEqual(await readFile(join(dest, path)), files.get(path));
    assert.equal(result.files.find((f) => f.path === path)?.verified, 'sha256');
  });

  it('starts over when the server ignores Range', async () => {
    const dest = await freshDest('no-range');
    const path = 'onnx/decoder_model_merged.onnx';
    await mkdir(join(dest, 'onnx'), { recursive: true });
    await writeFile(join(dest, `${path}.part`), Buffer.from('stale bytes that must not stay in front'));
    hub.ignoreRange = true;
    await pullModel({ id: ID, baseUrl: hub.url, dest });
    assert.deepEqual(await readFile(join(dest, path)), files.get(path));
  });

  it('fails on a sha256 mismatch and leaves neither the file nor its .part', async () => {
    const dest = await freshDest('bad-sha');
    const path = 'onnx/encoder_model.onnx';
    hub.wrongSha.add(path);
    await assert.rejects(pullModel({ id: ID, baseUrl: hub.url, dest }), /onnx\/encoder_model\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/);
    await assert.rejects(stat(join(dest, path)), /ENOENT/);
    await assert.rejects(stat(join(dest, `${path}.part`)), /ENOENT/);
  });

  it('takes an explicit file list without asking the API, checking sizes from the responses', async () => {
    const dest = await freshDest('explicit');
    const result = await pullModel({ id: ID, baseUrl: hub.url, dest, revision: 'v1', files: ['config.json', 'onnx/encoder_model.onnx'] });
    assert.ok(hub.requests.every((r) => !r.path.startsWith('/api/')));
    assert.ok(hub.requests.every((r) => r.path.includes('/resolve/v1/')));
    assert.deepEqual(result.files.map((f) => [f.path, f.verified]), [['config.json', 'size'], ['onnx/encoder_model.onnx', 'size']]);
    assert.equal(result.files[1]?.sha256, createHash('sha256').update(files.get('onnx/encoder_model.onnx') as Buffer).digest('hex'));
  });

  it('refuses hostile paths, unknown models and bad ids', async () => {
    await assert.rejects(pullModel({ id: ID, baseUrl: hub.url, dest: await freshDest('hostile'), files: ['../escape.json'] }), /refusing hub file path/);
    await assert.rejects(pullModel({ id: 'clapset-test/absent', baseUrl: hub.url, dest: await freshDest('absent') }), /HTTP 404/);
    await assert.rejects(pullModel({ id: '../etc', baseUrl: hub.url }), /not a model id/);
    await assert.rejects(pullModel({ id: ID, baseUrl: hub.url, dest: await freshDest('missing'), files: ['onnx/absent.onnx'] }), /HTTP 404/);
  });
});
