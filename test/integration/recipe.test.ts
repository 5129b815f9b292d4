/**
 * `clapset demo --recipe laion-audio-630k`, end to end from the real binary: the recipe's eight
 * crawls against the provider fixture servers (started by the demo), submitted and waited for
 * together with two worker processes, the dataset finalised once more and verified. Every provider
 * must end up in stats.json with clips and hours, every source in manifest.json, and the fixture
 * API key nowhere in the dataset.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { LAION_AUDIO_630K_SOURCES } from '../../crawl/recipes/laion-audio-630k.ts';
import { verifyDataset } from '../../dataset/verify.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-recipe-'));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Stats {
  totals: { samples: number; hours: number; failed: number };
  sources: Record<string, { clips: number; samples: number; hours: number; failed: Record<string, number> }>;
}

test('the laion-audio-630k demo crawls all eight providers into one verified dataset', async (t) => {
  const out = join(work, 'demo');
  const started = Date.now();
  const result = await runCli(['demo', '--recipe', 'laion-audio-630k', '--out', out], { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL });
  assert.equal(result.code, 0, result.stderr);
  const summary = lastJsonLine<{ dataset: string; shards: number; samples: number; failed: number; hours: number }>(result.stdout);
  assert.deepEqual(Object.keys(summary), ['dataset', 'shards', 'samples', 'failed', 'hours'], 'the same summary as the plain demo');
  assert.equal(summary.dataset, out);

  const stats = JSON.parse(await readFile(join(out, 'stats.json'), 'utf8')) as Stats;
  assert.deepEqual(Object.keys(stats.sources).sort(), [...LAION_AUDIO_630K_SOURCES].sort());
  for (const [name, s] of Object.entries(stats.sources)) {
    assert.ok(s.clips > 0 && s.samples > 0 && s.hours > 0, `${name}: ${s.samples} samples of ${s.clips} clips, ${s.hours} h`);
  }
  // The fixtures' deliberate bad rows: a BBC row without a file, an Epidemic track without stems, a broken Audiostock item.
  for (const name of ['bbc', 'epidemic', 'audiostock']) assert.deepEqual(stats.sources[name]!.failed, { invalid_record: 1 }, name);
  assert.equal(summary.samples, stats.totals.samples);
  assert.equal(summary.failed, stats.totals.failed);
  assert.equal(summary.hours, Number(stats.totals.hours.toFixed(6)));
  t.diagnostic(
    `${((Date.now() - started) / 1000).toFixed(1)} s: ${result.stdout.trim().split('\n').at(-1)}; ` +
      Object.entries(stats.sources).map(([name, s]) => `${name} ${s.samples}/${s.clips} clips ${s.hours.toFixed(5)} h`).join(', '),
  );

  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { sources: { name: string }[] };
  assert.deepEqual(manifest.sources.map((s) => s.name).sort(), [...LAION_AUDIO_630K_SOURCES].sort(), 'every source recorded, despite concurrent crawls');
  const store = openStore(out);
  const report = await verifyDataset(store, await locateFfmpeg());
  await store.close();
  assert.ok(report.ok, report.problems.join('\n'));
  assert.equal(report.samples, summary.samples);

  // The fixture's key reached the workers through their environment only.
  const crawlFiles = (await readdir(join(out, '_crawl'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(out, join(e.parentPath, e.name)));
  assert.ok(crawlFiles.some((f) => f.includes('.seen/')), 'the resumable sources\' seen ids are checked too');
  for (const file of ['manifest.json', 'stats.json', 'README.md', ...crawlFiles]) {
    assert.ok(!(await readFile(join(out, file), 'utf8')).includes('fs-fixture-key'), `${file} holds no credential`);
  }
});
