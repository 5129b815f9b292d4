/**
 * Crawl checkpoints for cursor-resumable sources, end to end: the Freesound fixture crawled with
 * small pages and shards (licence and id exclusions on), the only worker killed mid-crawl, the
 * project's Redis keys deleted, then `clapset crawl --resume`. The dataset must equal an
 * uninterrupted run's (same shards, same samples, same exclusion counts) while the resumed crawl
 * asks the fixture for fewer search pages than a whole crawl does.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { STAGES } from '../../infra/queues.ts';
import { deletePrefixedKeys } from '../../infra/redis/connection.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { licenseId } from '../../sources/freesound/license.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { readSamples, testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

let fx: FreesoundFixture;
let work: string;
let crawlArgs: string[];

before(async () => {
  fx = await startFreesoundFixture({ throttle: { limit: 1000, windowMs: 1000 } });
  work = await mkdtemp(join(tmpdir(), 'clapset-checkpoint-'));
  await writeFile(join(work, 'eval-ids.txt'), `# evaluation-set overlap\n${fx.sounds[0]!.id}\n${fx.sounds[9]!.id}\n`);
  crawlArgs = [
    'crawl', 'freesound',
    '--set', `apiBase=${fx.apiBase}`, '--set', `mediaHosts=["${fx.mediaHost}"]`, '--set', 'pageSize=3',
    '--set', 'rate=[{"limit":500,"windowMs":1000}]', '--set', 'mediaRate=[{"limit":10,"windowMs":1000}]',
    '--shard-size', '3', '--chunk-size', '3', '--test-fraction', '0.2', '--max-shards-in-flight', '2', '--no-caption',
    '--exclude-license-prefix', 'cc-by-nc', '--exclude-ids', join(work, 'eval-ids.txt'),
  ];
});

after(async () => {
  await fx.close();
  await rm(work, { recursive: true, force: true });
});

const statsFiles = (dir: string) =>
  ['train', 'test'].flatMap((split) => (existsSync(join(dir, split)) ? readdirSync(join(dir, split)).filter((f) => f.endsWith('_stats.json')) : []));
const readJsonFile = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;

interface Summary {
  samples: number;
  shardsDone: number;
  shardsSkipped: number;
  excluded: { license: number; id: number; opt_out: number };
}

test('a Freesound crawl killed mid-run resumes from its checkpoint: same dataset, fewer search pages', async (t) => {
  const reference = join(work, 'reference');
  const interrupted = join(work, 'interrupted');

  // What the exclusions must count: of the sounds the API lists, the no-gen-ai ones, then the id and licence rules.
  const listed = fx.sounds.filter((s) => !s.deleted && s.duration <= 180 && s.samplerate >= 16000);
  const byOptOut = listed.filter((s) => s.gen_ai_preference === 'no-gen-ai').length;
  const ruled = listed.filter((s) => s.gen_ai_preference !== 'no-gen-ai');
  const onList = (s: { id: number }) => s.id === fx.sounds[0]!.id || s.id === fx.sounds[9]!.id;
  const byId = ruled.filter(onList).length;
  const byLicense = ruled.filter((s) => !onList(s) && licenseId(s.license)!.startsWith('cc-by-nc')).length;
  assert.ok(byId === 2 && byLicense >= 5 && byOptOut >= 2, `${byId} by id, ${byLicense} by licence, ${byOptOut} opted out`);
  const excluded = { license: byLicense, id: byId, opt_out: byOptOut };
  // One kept sound's preview answers X-Robots-Tag: noai (in every run): filtered as opted_out, not failed.
  const optedOut = ruled.filter((s) => !onList(s) && !licenseId(s.license)!.startsWith('cc-by-nc'))[4]!;
  fx.faults.previews.set(optedOut.id, { robots: 'noai' });

  const refCtx = testQueueContext();
  const refEnv = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: refCtx.prefix, FREESOUND_API_KEY: fx.apiKey };
  let searches = fx.stats.searches;
  const whole = await runCli([...crawlArgs, '--dataset', reference, '--workers', '2', '--json'], refEnv);
  assert.equal(whole.code, 0, whole.stderr);
  const fullSearches = fx.stats.searches - searches;
  await refCtx.close();
  const refSummary = lastJsonLine<Summary>(whole.stdout);
  const totalShards = statsFiles(reference).length;
  assert.ok(totalShards >= 5, `the reference run wrote ${totalShards} shards`);

  assert.deepEqual(refSummary.excluded, excluded);
  assert.equal(refSummary.samples, listed.length - byId - byLicense - byOptOut - 1);

  // First attempt: the CLI submits and waits (--workers 0); one worker, killed once a checkpoint is saved.
  const ctx = testQueueContext();
  const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, FREESOUND_API_KEY: fx.apiKey };
  const workers = spawnLocalWorkers(1, { env, stages: STAGES, concurrency: 1, logFile: join(work, 'killed-worker.log') });
  const waiting = runCli([...crawlArgs, '--dataset', interrupted, '--workers', '0', '--json'], env);
  const checkpoint = join(interrupted, '_crawl', 'freesound.checkpoint.json');
  const deadline = Date.now() + 60_000;
  while (!existsSync(checkpoint) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  workers.processes[0]!.kill('SIGKILL');
  await workers.stop();
  const doneBeforeKill = statsFiles(interrupted).length;
  assert.ok(existsSync(checkpoint), 'a checkpoint was saved');
  assert.ok(doneBeforeKill >= 1 && doneBeforeKill < totalShards, `killed after ${doneBeforeKill} of ${totalShards} shards`);
  assert.ok((await deletePrefixedKeys(ctx.connection, ctx.prefix)) > 0, "the crawl's Redis keys existed and are gone");
  const lost = await waiting;
  assert.equal(lost.code, 1, lost.stderr);
  assert.match(lost.stderr, /gone from Redis .*rerun the crawl with --resume/);
  const saved = await readJsonFile<{ checkpoint: { cursor: string; seenCount: number }; seen?: unknown; seen_segments?: { ids_per_segment: number } }>(checkpoint);
  assert.ok(JSON.parse(saved.checkpoint.cursor).page >= 2, `the checkpoint is past the first page: ${saved.checkpoint.cursor}`);
  // The ids seen are not in the checkpoint but in the segment it names (one here: 10,000 ids each), written before it.
  assert.equal(saved.seen, undefined);
  assert.deepEqual(saved.seen_segments, { ids_per_segment: 10_000 });
  const segment = await readJsonFile<{ first: number; ids: string[] }>(join(interrupted, '_crawl', 'freesound.seen', '000000.json'));
  assert.equal(segment.first, 0);
  assert.ok(segment.ids.length >= saved.checkpoint.seenCount && saved.checkpoint.seenCount > 0, `${segment.ids.length} ids stored, ${saved.checkpoint.seenCount} counted`);

  searches = fx.stats.searches;
  const resumed = await runCli([...crawlArgs, '--dataset', interrupted, '--resume', '--workers', '2', '--json'], env);
  assert.equal(resumed.code, 0, resumed.stderr);
  const resumedSearches = fx.stats.searches - searches;
  await ctx.close();
  assert.ok(resumedSearches < fullSearches, `the resumed crawl asked for ${resumedSearches} search pages, a whole crawl ${fullSearches}`);
  const summary = lastJsonLine<Summary>(resumed.stdout);
  t.diagnostic(`killed after ${doneBeforeKill}/${totalShards} shards; checkpoint ${saved.checkpoint.cursor}; search pages: whole ${fullSearches}, resumed ${resumedSearches}; excluded ${JSON.stringify(summary.excluded)}`);
  assert.ok(summary.shardsSkipped >= 1, `finished shards were skipped (${summary.shardsSkipped})`);
  assert.deepEqual(summary.excluded, refSummary.excluded, 'exclusions before the checkpoint are neither lost nor counted twice');

  const key = (s: { tar: string; key: string; flacSha256: string; json: unknown }) => JSON.stringify([s.tar.split('/').slice(-2).join('/'), s.key, s.flacSha256, s.json]);
  const expected = (await readSamples(openStore(reference))).map(key).sort();
  const actual = (await readSamples(openStore(interrupted))).map(key).sort();
  assert.equal(new Set(actual).size, actual.length, 'no duplicate sample');
  assert.deepEqual(actual, expected, 'same shards, same samples, same bytes');
  assert.deepEqual(statsFiles(interrupted).sort(), statsFiles(reference).sort());

  for (const dir of [reference, interrupted]) {
    const stats = await readJsonFile<{ sources: Record<string, { samples: number; failed: object; filtered: object; excluded?: unknown }> }>(join(dir, 'stats.json'));
    const own = stats.sources.freesound!;
    assert.deepEqual(own.excluded, excluded, `${dir} stats.json`);
    assert.deepEqual([own.samples, own.filtered, own.failed], [refSummary.samples, { opted_out: 1 }, {}]);
    const crawlSummary = await readJsonFile<{ complete: boolean; excluded: unknown }>(join(dir, '_crawl', 'freesound.json'));
    assert.deepEqual([crawlSummary.complete, crawlSummary.excluded], [true, excluded]);
  }
});
