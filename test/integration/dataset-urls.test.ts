// The dataset card's loading code, run as a researcher would: an S3 dataset in a real S3 server
// (s3rver), the card's `pipe:` commands run by `sh -c` as webdataset runs them (real awscli), the
// https form fetched with curl as webdataset's gopen does (plain http on loopback: a folder served
// by a node:http server stands in for the public bucket or CDN), every brace pattern expanded by bash
// (the semantics of Python's braceexpand) and each tar stream read back with tar-stream, against
// sizes.json. Not run here: s5cmd (not packaged for Debian: its commands are checked as text) and
// Python's webdataset / datasets (not installed, and no network: the snippets are checked to parse).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import tar from 'tar-stream';
import { makeTone } from '../../demo/providers/tone.ts';
import { parseFlacHeader } from '../../infra/audio/flac-info.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.ts';

const ctx = testQueueContext();
let s3: S3ServerHandle;
let env: NodeJS.ProcessEnv;
let work: string;
let mirror: string;
let http: Server;
let publicUrl: string;
let dataset: string;
let card: string;
const sizes: Record<string, Record<string, number>> = {};

/** The folder a public bucket or CDN would serve, over plain http on loopback. */
function serveFolder(root: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = normalize(join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root)) return void response.writeHead(403).end();
    stat(path).then(
      (info) => {
        if (!info.isFile()) return void response.writeHead(404).end();
        response.writeHead(200, { 'content-length': info.size });
        createReadStream(path).pipe(response);
      },
      () => response.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Brace expansion by bash itself, word by word as `echo` prints them. */
function bashExpand(pattern: string): string[] {
  const result = spawnSync('bash', ['-c', `printf '%s\\n' ${pattern}`], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim().split('\n');
}

/** A `pipe:` pattern expanded into one `pipe:` URL per shard (bash expands braces per word; these patterns vary in one). */
function expandPipe(url: string): string[] {
  assert.ok(url.startsWith('pipe:'), url);
  const expanded = url.split(' ').map((word) => bashExpand(word));
  const count = Math.max(...expanded.map((w) => w.length));
  return Array.from({ length: count }, (_, i) => expanded.map((w) => (w.length === 1 ? w[0] : w[i])).join(' '));
}

/** Member names of a tar stream, in order; the first two members' bytes are kept (the first sample). */
function tarMembers(stream: Readable): Promise<string[] & { firstTwo?: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const names: string[] & { firstTwo?: Buffer[] } = [];
    const firstTwo: Buffer[] = [];
    const extract = tar.extract();
    extract.on('entry', (header, body, next) => {
      names.push(header.name);
      const chunks: Buffer[] = [];
      body.on('data', (chunk: unknown) => {
        if (names.length <= 2) chunks.push(chunk as Buffer);
      });
      body.on('end', () => {
        if (names.length <= 2) firstTwo.push(Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', () => resolve(Object.assign(names, { firstTwo })));
    extract.on('error', reject);
    stream.on('error', reject);
    stream.pipe(extract);
  });
}

/** Runs a command with `sh -c` (as webdataset's gopen does with what follows `pipe:`) and reads its stdout as a tar. */
async function tarFromCommand(command: string): Promise<string[] & { firstTwo?: Buffer[] }> {
  const child = spawn('sh', ['-c', command.replace(/^pipe:/, '')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const members = await tarMembers(child.stdout);
  assert.equal(await exited, 0, `${command}: ${stderr}`);
  return members;
}

/** Each shard holds `<key>.flac` + `<key>.json` per sample, adjacent, as many as sizes.json says. */
function assertShard(url: string, members: string[], expected: number): void {
  assert.equal(members.length, 2 * expected, `${url}: ${members.length} members for ${expected} samples`);
  for (let i = 0; i < members.length; i += 2) {
    const key = members[i]!.replace(/\.flac$/, '');
    assert.match(members[i]!, /^urls-[0-9a-f]+\.flac$/, url);
    assert.equal(members[i + 1], `${key}.json`, url);
  }
}

/** The shard file name an expanded URL names, so the expansion can be compared with sizes.json. */
const shardOf = (url: string) => /([a-z0-9-]+-\d+\.tar)\b/.exec(url)![1]!;

/** The card's bullet for a split and scheme: `- train, pipe-aws: \`…\``. */
function cardPattern(split: string, scheme: string): string {
  const line = card.split('\n').find((l) => l.startsWith(`- ${split}, ${scheme}: `));
  assert.ok(line, `the card lists ${split} for ${scheme}`);
  return line.slice(line.indexOf('`') + 1, line.lastIndexOf('`'));
}

const pythonBlocks = (text: string) => [...text.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
/** The `urls = "…"` of each webdataset snippet (JSON string literals, which Python reads the same). */
const snippetUrls = (text: string) => pythonBlocks(text).flatMap((b) => [...b.matchAll(/^urls = (".*")$/gm)].map((m) => JSON.parse(m[1]!) as string));

before(async () => {
  s3 = await startS3Server({ bucket: 'urls-test' });
  work = await mkdtemp(join(tmpdir(), 'clapset-urls-'));
  mirror = join(work, 'public');
  await mkdir(mirror);
  http = await serveFolder(mirror);
  publicUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/corpus`;
  env = { ...process.env, ...s3.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
  const root = join(work, 'collection');
  await mkdir(root);
  for (let i = 0; i < 9; i++) await makeTone(join(root, `Tone_${i}.wav`), { seconds: 0.3 + i * 0.1, sampleRate: 44100, channels: 1, format: 'wav' });
  dataset = `s3://${s3.bucket}/corpus`;
  const crawl = await runCli(
    ['crawl', 'local', '--root', root, '--name', 'urls', '--dataset', dataset, '--shard-size', '2', '--test-fraction', '0.4', '--no-caption', '--workers', '1', '--public-url', `${publicUrl}/`, '--json'],
    env,
  );
  assert.equal(crawl.code, 0, crawl.stderr);
  assert.equal(lastJsonLine<{ samples: number }>(crawl.stdout).samples, 9);
  const get = (key: string) => spawnSync('aws', ['s3', 'cp', '--endpoint-url', s3.endpoint, `${dataset}/${key}`, '-'], { env, encoding: 'utf8' });
  for (const split of ['train', 'test']) {
    const result = get(`${split}/sizes.json`);
    assert.equal(result.status, 0, result.stderr);
    sizes[split] = JSON.parse(result.stdout) as Record<string, number>;
  }
  card = get('README.md').stdout;
});

after(async () => {
  await new Promise((resolve) => http?.close(resolve));
  await ctx.close();
  await s3?.stop();
  await rm(work, { recursive: true, force: true });
});

test('the S3 card names exactly the shards of sizes.json in every form, and clapset urls prints the same', async () => {
  assert.ok(Object.keys(sizes.train!).length >= 2 && Object.keys(sizes.test!).length >= 1, `both splits have shards: ${JSON.stringify(sizes)}`);
  assert.match(card, new RegExp(`\\| train \\| ${Object.keys(sizes.train!).length} \\| \\d+ \\| \`${dataset}/train/sizes.json\` \\|`));
  for (const split of ['train', 'test']) {
    const shards = Object.keys(sizes[split]!).sort();
    for (const scheme of ['pipe-aws', 'pipe-s5cmd', 's3', 'https']) {
      const pattern = cardPattern(split, scheme);
      const expanded = scheme.startsWith('pipe-') ? expandPipe(pattern) : bashExpand(pattern);
      assert.deepEqual(expanded.map(shardOf).sort(), shards, `${split} ${scheme}: ${pattern}`);
    }
  }
  // One module makes both: the command prints the card's patterns, and --list their expansion.
  for (const scheme of ['pipe-aws', 'pipe-s5cmd', 's3', 'https']) {
    const urls = await runCli(['urls', dataset, '--split', 'train', '--scheme', scheme], env);
    assert.equal(urls.code, 0, urls.stderr);
    assert.equal(urls.stdout.trim(), cardPattern('train', scheme), `clapset urls prints the card pattern for ${scheme}`);
  }
  for (const [split, scheme] of [['train', 'pipe-aws'], ['test', 's3']] as const) {
    const list = await runCli(['urls', dataset, '--split', split, '--scheme', scheme, '--list'], env);
    const pattern = cardPattern(split, scheme);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), (scheme === 's3' ? bashExpand(pattern) : expandPipe(pattern)).sort(), '--list is the expansion, one URL per line');
  }
  assert.equal(cardPattern('train', 'pipe-aws').split(' --endpoint-url ')[1]?.split(' ')[0], s3.endpoint, 'aws is pointed at the custom endpoint');
  assert.match(cardPattern('train', 'pipe-s5cmd'), new RegExp(`^pipe:s5cmd --endpoint-url ${s3.endpoint} cat s3://${s3.bucket}/corpus/train/`));
  assert.match(cardPattern('test', 'https'), new RegExp(`^${publicUrl}/test/`), 'the trailing slash of --public-url is dropped');
  const fallback = await runCli(['urls', dataset, '--split', 'test'], env);
  assert.equal(fallback.stdout.trim(), cardPattern('test', 'pipe-aws'), 'an S3 dataset defaults to pipe-aws');
});

test('each pipe:aws command the card gives streams a shard whose members match sizes.json', async () => {
  const [snippetAws, snippetS5cmd, snippetHttps, ...rest] = snippetUrls(card);
  assert.equal(rest.length, 0, 'one webdataset snippet per form');
  assert.equal(snippetAws, cardPattern('train', 'pipe-aws'));
  assert.equal(snippetS5cmd, cardPattern('train', 'pipe-s5cmd'));
  assert.equal(snippetHttps, cardPattern('train', 'https'));
  let first: Buffer[] | undefined;
  for (const split of ['train', 'test']) {
    for (const command of expandPipe(cardPattern(split, 'pipe-aws'))) {
      const members = await tarFromCommand(command);
      assertShard(command, members, sizes[split]![shardOf(command)]!);
      first ??= members.firstTwo;
    }
  }
  // What the snippet prints of the first sample: meta["text"], the FLAC's rate and duration.
  const [flac, json] = first!;
  const meta = JSON.parse(json!.toString('utf8')) as { text: string[]; duration: number };
  assert.ok(meta.text.length > 0 && meta.text.every((t) => typeof t === 'string' && t.length > 0), JSON.stringify(meta.text));
  const info = parseFlacHeader(flac!);
  assert.equal(info.sampleRate, 48000);
  assert.ok(Math.abs(info.durationSec - meta.duration) < 0.01 && info.durationSec > 0.25, `${info.durationSec} s vs ${meta.duration} s`);
  for (const block of pythonBlocks(card)) {
    const parsed = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: block, encoding: 'utf8' });
    assert.equal(parsed.status, 0, `the snippet parses as Python:\n${block}\n${parsed.stderr}`);
  }
  const hf = pythonBlocks(card).find((b) => b.includes('load_dataset("webdataset"'))!;
  assert.match(hf, /split="train", streaming=True\)/);
  for (const split of ['train', 'test']) {
    const line = new RegExp(`^ {4}"${split}": list\\(braceexpand\\((".*")\\)\\),$`, 'm').exec(hf);
    assert.ok(line, `HF data_files has ${split}`);
    assert.deepEqual(bashExpand(JSON.parse(line[1]!) as string).map(shardOf).sort(), Object.keys(sizes[split]!).sort());
  }
});

test('the https form, fetched as webdataset fetches it, streams every shard from a served copy; a local copy gets path snippets', async () => {
  const copy = spawnSync('aws', ['s3', 'cp', '--recursive', '--endpoint-url', s3.endpoint, dataset, join(mirror, 'corpus')], { env, encoding: 'utf8' });
  assert.equal(copy.status, 0, copy.stderr);
  for (const split of ['train', 'test']) {
    for (const url of bashExpand(cardPattern(split, 'https'))) {
      // webdataset's gopen runs `curl --connect-timeout 30 --retry 30 --retry-delay 2 -f -s -L <url>` for http(s).
      assertShard(url, await tarFromCommand(`curl -f -s -L '${url}'`), sizes[split]![shardOf(url)]!);
    }
    // fetch, not a synchronous child: the server answers from this process's event loop.
    assert.deepEqual(await (await fetch(`${publicUrl}/${split}/sizes.json`)).json(), sizes[split], 'sizes.json is served beside the shards');
  }

  const local = join(mirror, 'corpus');
  const finalised = await runCli(['finalise', local], env);
  assert.equal(finalised.code, 0, finalised.stderr);
  const localCard = await readFile(join(local, 'README.md'), 'utf8');
  const [pathSnippet, httpsSnippet] = snippetUrls(localCard);
  assert.equal(httpsSnippet, cardPattern('train', 'https'), 'the public URL recorded at crawl survives finalise');
  const paths = bashExpand(pathSnippet!);
  assert.deepEqual(paths.map(shardOf).sort(), Object.keys(sizes.train!).sort());
  for (const path of paths) {
    assert.ok(path.startsWith(`${local}/train/`), path);
    assertShard(path, await tarMembers(createReadStream(path)), sizes.train![shardOf(path)]!);
  }
  assert.match(localCard, new RegExp(`\`${local}/train/sizes.json\``));
  const refused = await runCli(['urls', local, '--scheme', 'pipe-aws'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /local folder .*: --scheme pipe-aws needs an s3:\/\/ dataset/);
});

test('finalise --public-url records a new base for the card and urls; a bad one is refused by option parsing', async () => {
  const moved = 'https://cdn.example.org/audio/corpus';
  const finalised = await runCli(['finalise', dataset, '--public-url', moved, '--json'], env);
  assert.equal(finalised.code, 0, finalised.stderr);
  assert.equal(lastJsonLine<{ totals: { samples: number } }>(finalised.stdout).totals.samples, 9);
  const urls = await runCli(['urls', dataset, '--scheme', 'https', '--list'], env);
  assert.deepEqual(urls.stdout.trim().split('\n'), Object.keys(sizes.train!).map((name) => `${moved}/train/${name}`));
  const bad = await runCli(['finalise', dataset, '--public-url', 'ftp://example.org/x'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /option '--public-url <url>' argument 'ftp:\/\/example.org\/x' is invalid/);
  const missing = await runCli(['urls', dataset, '--split', 'nope'], env);
  assert.match(missing.stderr, /argument 'nope' is invalid. Allowed choices are train, test/);
});
