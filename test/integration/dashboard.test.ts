import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../dashboard/server.ts';
import { createHttpClient, definePolicy } from '../../infra/http/index.ts';
import { readLiveStats } from '../../workers/shard/live-stats.ts';
import { countStageEvent } from '../../infra/stage-metrics.ts';
import { runCrawl } from '../../crawl/run-crawl.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { makeTextAsWav } from '../helpers/audio-fixtures.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';
import { runCli } from '../helpers/cli.ts';

const CHROMIUM = process.env.CLAPSET_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const SECRET = 'dashboard-test-secret-value';
const ctx = testQueueContext();
let work: string;
let dataset: string;
let dashboard: RunningDashboard;
const probes: { healthy: number | null; drifted: number | null } = { healthy: null, drifted: null };

const crawl = (name: string, root: string) =>
  runCrawl(
    configFromEnv(),
    ctx,
    crawlJobSchema.parse({ dataset: { uri: dataset, shardSize: 4, testFraction: 0 }, source: { type: 'local', name, root, license: 'cc0' } }),
    { resume: true, localWorkers: 1, workerConcurrency: 2, quiet: true },
  );

before(async () => {
  process.env.CLAPSET_REDIS_URL = TEST_REDIS_URL;
  process.env.AWS_SECRET_ACCESS_KEY = SECRET;
  work = await mkdtemp(join(tmpdir(), 'clapset-dashboard-'));
  dataset = join(work, 'dataset');
  const root = join(work, 'sounds');
  await mkdir(root, { recursive: true });
  for (const [i, seconds] of [0.5, 1.5, 3, 7, 12].entries()) await makeTone(join(root, `Tone_${i}.wav`), { seconds, sampleRate: 44100, channels: 1, format: 'wav' });
  await makeTextAsWav(join(root, 'Broken.wav'));
  await crawl('sounds', root);
  // Two real probes (one healthy, one of an empty folder) recorded under this test's prefix.
  const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
  await mkdir(join(work, 'empty'), { recursive: true });
  probes.healthy = (await runCli(['probe', 'local', '--root', root, '--name', 'sounds'], env)).code;
  probes.drifted = (await runCli(['probe', 'local', '--root', join(work, 'empty'), '--name', 'empty-folder'], env)).code;
  dashboard = await startDashboard({ ctx, config: configFromEnv(), host: '127.0.0.1', port: 0, token: null, datasets: [dataset], refreshSeconds: 0.5 });
});

after(async () => {
  await dashboard?.close();
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

test('live statistics agree with the statistics recomputed at finalisation', async () => {
  const live = await readLiveStats(ctx.connection, ctx.prefix, dataset);
  const finalised = JSON.parse(await readFile(join(dataset, 'stats.json'), 'utf8'));
  assert.deepEqual(live.sources, finalised.sources);
  assert.equal(live.sources.sounds!.samples, 5);
  assert.deepEqual(live.sources.sounds!.failed, { decode_error: 1 });
});

test('the API serves overview, shard downloads, /metrics and Bull Board, and never a secret', async () => {
  const overview = await (await fetch(`${dashboard.url}/api/overview`)).json();
  const mine = overview.datasets.find((d: { uri: string }) => d.uri === dataset);
  assert.equal(mine.live.sources.sounds.samples, 5);
  assert.equal(mine.failures[0].reason, 'decode_error');
  assert.equal(overview.laion.freesound.clips, 515581);
  const shard = mine.shards[0];
  const tar = Buffer.from(await (await fetch(`${dashboard.url}${shard.url}`)).arrayBuffer());
  assert.deepEqual(tar, await readFile(join(dataset, `${shard.name}.tar`)));
  assert.equal((await fetch(`${dashboard.url}/files/${mine.index}/..%2F..%2Fetc%2Fpasswd`)).status, 400);
  const provider = createHttpClient({ redis: ctx.connection, prefix: ctx.prefix, policy: definePolicy({ provider: 'freesound', allowedHosts: [], rate: [{ limit: 1, windowMs: 1000 }] }) });
  await provider.count('http_429', 3);
  await provider.count('backoffs', 2);
  const metrics = await (await fetch(`${dashboard.url}/metrics`)).text();
  assert.match(metrics, /clapset_provider_http\{provider="freesound",counter="http_429"\} 3/);
  assert.match(metrics, /clapset_provider_http\{provider="freesound",counter="backoffs"\} 2/);
  assert.match(metrics, new RegExp(`clapset_dataset_samples\\{dataset="${dataset.replace(/[/.]/g, '\\$&')}",source="sounds"\\} 5`));
  assert.match(metrics, /clapset_stage_counter\{stage="transcode",counter="clips_ok"\} 5/);
  assert.match(metrics, /clapset_queue_jobs\{stage="transcode",state="failed"\} 0/);
  const board = await fetch(`${dashboard.url}/queues/`);
  assert.equal(board.status, 200);
  assert.match(await board.text(), /bull/i);
  assert.ok(!JSON.stringify(overview).includes(SECRET) && !metrics.includes(SECRET));
});

test('beyond loopback the dashboard needs a token, and refuses requests without it', async () => {
  await assert.rejects(
    startDashboard({ ctx, config: configFromEnv(), host: '0.0.0.0', port: 0, token: null, datasets: [] }),
    /refusing to bind the dashboard to 0\.0\.0\.0 without a token/,
  );
  const guarded = await startDashboard({ ctx, config: configFromEnv(), host: '127.0.0.1', port: 0, token: 's3cr3t-token', datasets: [] });
  try {
    assert.equal((await fetch(`${guarded.url}/api/overview`)).status, 401);
    assert.equal((await fetch(`${guarded.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${guarded.url}/api/overview`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${guarded.url}/api/overview`, { headers: { Authorization: 'Bearer s3cr3t-token' } })).status, 200);
  } finally {
    await guarded.close();
  }
});

test('the last clapset probe of each source is in the overview, healthy and drifted', async () => {
  assert.equal(probes.healthy, 0);
  assert.equal(probes.drifted, 1);
  const overview = (await (await fetch(`${dashboard.url}/api/overview`)).json()) as { probes: { source: string; ok: boolean; checked_at: string; problems: string[] }[] };
  assert.deepEqual(overview.probes.map((p) => [p.source, p.ok]), [['empty-folder', false], ['sounds', true]]);
  assert.ok(overview.probes.every((p) => Date.now() - Date.parse(p.checked_at) < 10 * 60_000), 'checked_at is a recent time');
  assert.ok(overview.probes[0]!.problems.length > 0, 'the drift is named');
});

test('in Chromium: numbers, charts, live updates, and a failure appearing after one is injected', async (t) => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  await mkdir(ARTIFACTS, { recursive: true });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  await page.goto(`${dashboard.url}/`);
  const row = page.locator(`section.dataset[data-uri="${dataset}"] tr[data-source="sounds"]`);
  await row.waitFor();
  assert.equal(await row.locator('td.samples').textContent(), '5');
  assert.equal(await row.locator('td.failed').textContent(), '1');
  const bars = await page.locator(`section.dataset[data-uri="${dataset}"] figure.chart[data-source="sounds"] rect.bin`).evaluateAll((rects) =>
    rects.map((r) => Number((r as unknown as { dataset: { count: string } }).dataset.count)),
  );
  assert.equal(bars.reduce((a, b) => a + b, 0), 5, 'the histogram holds every sample');
  assert.ok(bars.filter((b) => b > 0).length >= 3, 'lengths spread over several bins');
  assert.equal(await page.locator('#connection').textContent(), 'live');
  assert.equal(await page.locator('#probes tr[data-source="empty-folder"] td:nth-child(3)').textContent(), 'DRIFT');
  assert.equal(await page.locator('#probes tr[data-source="sounds"] td:nth-child(3)').textContent(), 'ok');
  // Worker trouble counters (as workers count them for /metrics) reach the stage table on the next update.
  const transcode = page.locator('#stages tr[data-stage="transcode"]');
  assert.equal(await transcode.locator('td.stalled').textContent(), '0');
  for (const [counter, n] of [['stalled', 2], ['lock_lost', 1], ['released_on_shutdown', 3]] as const) {
    for (let i = 0; i < n; i++) await countStageEvent(ctx.connection, ctx.prefix, 'transcode', counter);
  }
  await page.waitForFunction(() => document.querySelector('#stages tr[data-stage="transcode"] td.released')?.textContent === '3');
  assert.deepEqual(await Promise.all(['stalled', 'lock-lost', 'released'].map((c) => transcode.locator(`td.${c}`).textContent())), ['2', '1', '3']);
  assert.equal(await page.locator('#stages tr[data-stage="shard"] td.stalled').textContent(), '0');
  const updates = Number(await page.evaluate(() => document.body.dataset.updates));
  await page.waitForFunction((n) => Number(document.body.dataset.updates) > n + 1, updates);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-before-failure.png'), fullPage: true });

  // Inject a failure: a second source whose only file is corrupt, crawled while the page is open.
  const bad = join(work, 'bad');
  await mkdir(bad, { recursive: true });
  await makeTextAsWav(join(bad, 'Not_audio.wav'), 'definitely not audio');
  // A crawl in which every clip failed is an error, and its failure is still recorded and shown.
  await assert.rejects(crawl('broken', bad), /broken: all 1 clips failed/);
  const failure = page.locator(`section.dataset[data-uri="${dataset}"] .failures tr`, { hasText: 'Not_audio.wav' });
  await failure.waitFor({ timeout: 15_000 });
  assert.equal(await failure.locator('td.reason').textContent(), 'decode_error');
  await page.locator(`section.dataset[data-uri="${dataset}"] tr[data-source="broken"]`).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-failure.png'), fullPage: true });
});
