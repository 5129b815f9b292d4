import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeNpy, encodeNpy } from '../../infra/npy.ts';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { runCrawl } from '../../crawl/run-crawl.ts';
import { searchLike, searchText } from '../../search/search.ts';
import { verifyDataset } from '../../dataset/verify.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { embeddingKeys } from '../../workers/embed/layout.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { readSamples, testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
let work: string;
let dataset: string;

before(async () => {
  process.env.CLAPSET_REDIS_URL = TEST_REDIS_URL;
  work = await mkdtemp(join(tmpdir(), 'clapset-models-'));
  await forgeTinyT5(join(work, 't5'), { seed: 7 });
  await forgeTinyClap(join(work, 'clap'), { seed: 7, fused: true });
  const root = join(work, 'sounds');
  for (const [i, [folder, seconds, rate]] of ([['Dogs', 3, 44100], ['Dogs', 1, 22050], ['Rain', 12, 48000], ['Rain', 4, 32000], ['Birds', 2.5, 44100], ['Birds', 6, 16000]] as const).entries()) {
    await mkdir(join(root, folder), { recursive: true });
    await makeTone(join(root, folder, `Clip_${i}.wav`), { seconds, sampleRate: rate, channels: 1, format: 'wav' });
  }
  await copyFile(join(root, 'Rain', 'Clip_2.wav'), join(root, 'Birds', 'Same_as_rain.wav')); // a planted duplicate
  dataset = join(work, 'dataset');
  const crawl = crawlJobSchema.parse({
    dataset: { uri: dataset, shardSize: 4, chunkSize: 3, testFraction: 0, caption: { model: join(work, 't5') }, embed: { model: join(work, 'clap') } },
    source: { type: 'local', name: 'tones', root },
  });
  await runCrawl(configFromEnv(), ctx, crawl, { resume: false, localWorkers: 2, workerConcurrency: 2, quiet: true, workerLogFile: join(work, 'workers.log') });
});

after(async () => {
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

test('a dataset crawled with caption and embed stages verifies, embeddings included', async () => {
  const report = await verifyDataset(openStore(dataset), await locateFfmpeg());
  assert.deepEqual(report.problems, []);
  assert.equal(report.samples, 7);
});

test('T5 captions fill text_augment_t5 for clips of 2 s or more, with provenance; shorter clips are skipped', async () => {
  const samples = await readSamples(openStore(dataset));
  for (const s of samples) {
    const json = s.json as { duration: number; text: string[]; text_augment_t5: string[] | null; text_augment_all: string[]; caption_provenance: { captioner: string; forged_test_model?: boolean; status: string } };
    assert.equal(json.caption_provenance.captioner, 't5');
    assert.equal(json.caption_provenance.forged_test_model, true);
    if (json.duration >= 2) {
      assert.equal(json.caption_provenance.status, 'captioned', `${s.key} (${json.duration} s) captioned`);
      assert.equal(json.text_augment_t5!.length, 1);
      assert.deepEqual(json.text_augment_all, [...json.text, ...json.text_augment_t5!]);
    } else {
      assert.equal(json.text_augment_t5, null);
      assert.equal(json.caption_provenance.status, 'skipped');
    }
  }
});

test('every sample has unit-norm audio and text embeddings in tar order, and --like finds the planted duplicate first', async () => {
  const store = openStore(dataset);
  const samples = await readSamples(store);
  const byTar = new Map<string, string[]>();
  for (const s of samples) byTar.set(s.tar, [...(byTar.get(s.tar) ?? []), s.key]);
  let rows = 0;
  for (const [tar, keys] of byTar) {
    const [split, file] = tar.split('/') as [string, string];
    const paths = embeddingKeys(split, file.replace(/\.tar$/, ''));
    for (const key of [paths.audio, paths.text]) {
      const { shape, data } = decodeNpy(await store.getBuffer(key));
      assert.deepEqual(shape, [keys.length, 512]);
      for (let r = 0; r < keys.length; r++) {
        const norm = Math.hypot(...data.subarray(r * 512, (r + 1) * 512));
        assert.ok(Math.abs(norm - 1) < 1e-4, `row ${r} of ${key} is unit-norm (${norm})`);
      }
    }
    rows += keys.length;
  }
  assert.equal(rows, samples.length);
  const original = samples.find((s) => s.json.provider_id === 'Rain/Clip_2.wav')!;
  const copy = samples.find((s) => s.json.provider_id === 'Birds/Same_as_rain.wav')!;
  const hits = await searchLike(store, original.key, { k: 3 });
  assert.equal(hits[0]!.key, copy.key);
  assert.ok(hits[0]!.score > 0.9999, `identical audio scores ~1 (${hits[0]!.score})`);
});

test('the dashboard searches the embeddings and plays the hits (HTTP and Chromium)', async (t) => {
  const { startDashboard } = await import('../../dashboard/server.ts');
  const { chromium } = await import('playwright-core');
  const dashboard = await startDashboard({ ctx, config: configFromEnv(), host: '127.0.0.1', port: 0, token: null, datasets: [dataset], refreshSeconds: 0.5 });
  t.after(() => dashboard.close());
  const samples = await readSamples(openStore(dataset));
  const original = samples.find((s) => s.json.provider_id === 'Rain/Clip_2.wav')!;
  const copy = samples.find((s) => s.json.provider_id === 'Birds/Same_as_rain.wav')!;
  const like = await (await fetch(`${dashboard.url}/api/search?dataset=0&like=${original.key}&k=3`)).json();
  assert.equal(like[0].key, copy.key);
  const flac = Buffer.from(await (await fetch(`${dashboard.url}${like[0].audio}`)).arrayBuffer());
  assert.equal(flac.subarray(0, 4).toString('latin1'), 'fLaC', 'the hit plays as FLAC');
  assert.equal((await fetch(`${dashboard.url}/api/audio/0/train/..%2F..%2Fx/${copy.key}.flac`)).status, 404);

  const browser = await chromium.launch({ executablePath: process.env.CLAPSET_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${dashboard.url}/`);
  const form = page.locator(`section.dataset[data-uri="${dataset}"] form.search`);
  await form.locator('input').fill('gentle rain');
  await form.locator('button').click();
  const hits = form.locator('li.hit');
  await hits.first().waitFor();
  assert.equal(await hits.count(), 7, 'every sample ranked (k=10 > 7 samples)');
  assert.equal(await hits.locator('audio').count(), 7);
  await page.waitForFunction(() => Number(document.body.dataset.updates) > 2);
  assert.equal(await form.locator('li.hit').count(), 7, 'results survive live updates');
  await page.screenshot({ path: join(process.cwd(), 'test-artifacts', 'dashboard-search.png'), fullPage: true });
});

test('clapset search: text with the model the manifest names, --like, JSON hits best first; a bad option is a clear error', async () => {
  const samples = await readSamples(openStore(dataset));
  const keys = new Set(samples.map((s) => s.key));
  type Hit = { key: string; score: number; shard: string; row: number };
  const text = await runCli(['search', 'gentle rain on a roof', '--dataset', dataset, '--k', '3', '--json'], process.env);
  assert.equal(text.code, 0, text.stderr);
  const hits = lastJsonLine<Hit[]>(text.stdout);
  assert.equal(hits.length, 3);
  assert.ok(hits.every((h) => keys.has(h.key)), 'every hit is a sample of the dataset');
  assert.ok(hits[0]!.score >= hits[1]!.score && hits[1]!.score >= hits[2]!.score, 'best first');
  // The CLI embeds the query with the dataset's own text encoder: the same ranking as the library.
  const embedder = await ClapEmbedder.load(join(work, 'clap'), { device: 'cpu' });
  const expected = await searchText(openStore(dataset), embedder, 'gentle rain on a roof', { k: 3 }).finally(() => embedder.close());
  assert.deepEqual(hits.map((h) => h.key), expected.map((h) => h.key));

  const original = samples.find((s) => s.json.provider_id === 'Rain/Clip_2.wav')!;
  const copy = samples.find((s) => s.json.provider_id === 'Birds/Same_as_rain.wav')!;
  const like = await runCli(['search', '--like', original.key, '--dataset', dataset, '--k', '1', '--concurrency', '2'], process.env);
  assert.equal(like.code, 0, like.stderr);
  assert.match(like.stdout, new RegExp(`^ +1\\. 1\\.0000  ${copy.key}  \\(train/`, 'm'));

  const bad = await runCli(['search', 'rain', '--dataset', dataset, '--concurrency', '0'], process.env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /concurrency must be a positive integer, got 0/);
});

test('verify reports a cut or reshaped embedding matrix (runs last: it tampers with the dataset)', async () => {
  const store = openStore(dataset);
  const [matrix] = (await collectKeys(store, 'embeddings/')).filter((key) => key.endsWith('.audio.npy'));
  const bytes = await store.getBuffer(matrix!);
  await store.put(matrix!, bytes.subarray(0, bytes.length - 100));
  const cut = await verifyDataset(store, await locateFfmpeg());
  assert.ok(cut.problems.some((p) => p.includes(`${matrix} is truncated`)), cut.problems.join('\n'));
  const { shape, data } = decodeNpy(bytes);
  await store.put(matrix!, encodeNpy(data.subarray(512), [shape[0]! - 1, 512]));
  const short = await verifyDataset(store, await locateFfmpeg());
  assert.ok(short.problems.some((p) => p.includes(`${matrix} has shape (${shape[0]! - 1},512), expected (${shape[0]},512)`)), short.problems.join('\n'));
  await store.put(matrix!, bytes);
  assert.deepEqual((await verifyDataset(store, await locateFfmpeg())).problems, []);
});

async function collectKeys(store: ReturnType<typeof openStore>, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}
