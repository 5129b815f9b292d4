/**
 * `clapset crawl <source> --dry-run --json`: the records a crawl would plan, one ClipRecord per
 * line, from the real binary — a local folder (no Redis needed) and the Freesound fixture (Redis for
 * the rate limiter) — with --limit, licence and id exclusions counted, nothing fetched or enqueued;
 * and `--set` / recipe errors that name the field and value.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clipRecordSchema, type ClipRecord } from '../../schemas/clip.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
let work: string;
let fx: FreesoundFixture;

const records = (stdout: string): ClipRecord[] =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => clipRecordSchema.parse(JSON.parse(line)));

const freesound = () => ['crawl', 'freesound', '--set', `apiBase=${fx.apiBase}`, '--set', `mediaHosts=["${fx.mediaHost}"]`, '--set', 'pageSize=5', '--dry-run', '--json'];

/** Keys of the queues: a dry run must leave none (the rate limiter's and HTTP counters' keys are expected). */
async function queueKeys(): Promise<string[]> {
  const keys = await ctx.connection.keys(`${ctx.prefix}:*`);
  return keys.filter((k) => /^[^:]+:(crawl|transcode|caption|shard|embed):/.test(k));
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-dry-run-'));
  await mkdir(join(work, 'collection', 'Birds'), { recursive: true });
  for (const name of ['Birds/Robin.wav', 'Birds/Wren.wav', 'Gong.wav', 'Bell.wav']) {
    await makeTone(join(work, 'collection', name), { seconds: 0.5, sampleRate: 22050, channels: 1, format: 'wav' });
  }
  await writeFile(join(work, 'clips.jsonl'), ['Bell.wav', 'Birds/Robin.wav', 'Birds/Wren.wav', 'Gong.wav'].map((file, i) => JSON.stringify({ file, caption: `clip ${i}`, license: ['cc0', 'cc-by-nc-4.0', 'CC-BY-NC-3.0', 'cc-by-4.0'][i] })).join('\n'));
  fx = await startFreesoundFixture({ throttle: { limit: 200, windowMs: 1000 } });
});

after(async () => {
  await fx.close();
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

describe('crawl --dry-run', () => {
  it('lists a local folder as ClipRecords without Redis, honouring --limit and exclusions', async () => {
    const noRedis = { ...env, CLAPSET_REDIS_URL: 'redis://127.0.0.1:1' };
    const all = await runCli(['crawl', 'local', '--root', join(work, 'collection'), '--dry-run', '--json'], noRedis);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(records(all.stdout).map((r) => r.id), ['Bell.wav', 'Birds/Robin.wav', 'Birds/Wren.wav', 'Gong.wav']);
    assert.match(all.stderr, /dry run local: 4 records, 0 duplicates, excluded 0 by licence, 0 by id and 0 by the provider's opt-out; nothing fetched or enqueued/);

    const limited = await runCli(['crawl', 'local', '--root', join(work, 'collection'), '--dry-run', '--json', '--limit', '2'], noRedis);
    assert.deepEqual(records(limited.stdout).map((r) => r.id), ['Bell.wav', 'Birds/Robin.wav']);

    await writeFile(join(work, 'ids.txt'), '# drop\nGong.wav\n');
    const excluding = await runCli(
      ['crawl', 'local', '--root', join(work, 'collection'), '--manifest', join(work, 'clips.jsonl'), '--exclude-license-prefix', 'cc-by-nc', '--exclude-ids', join(work, 'ids.txt'), '--dry-run', '--json'],
      noRedis,
    );
    assert.equal(excluding.code, 0, excluding.stderr);
    assert.deepEqual(records(excluding.stdout).map((r) => [r.id, r.license]), [['Bell.wav', 'cc0']]);
    assert.match(excluding.stderr, /1 records, 0 duplicates, excluded 2 by licence, 1 by id and 0 by the provider's opt-out/);
  });

  it('lists Freesound search results through Redis: no preview fetched, nothing enqueued, --limit and licence exclusion', async () => {
    const before = { searches: fx.stats.searches, previews: fx.stats.previews };
    const result = await runCli([...freesound(), '--limit', '7'], { ...env, FREESOUND_API_KEY: fx.apiKey });
    assert.equal(result.code, 0, result.stderr);
    const listed = records(result.stdout);
    const expected = fx.sounds
      .filter((s) => !s.deleted && s.duration <= 180 && s.samplerate >= 16000 && s.gen_ai_preference !== 'no-gen-ai')
      .sort((a, b) => (a.created < b.created ? -1 : 1));
    assert.deepEqual(listed.map((r) => r.id), expected.slice(0, 7).map((s) => String(s.id)));
    assert.ok(listed.every((r) => r.source === 'freesound' && r.audio.startsWith(`${fx.cdn.origin}/previews/`)));
    assert.equal(fx.stats.previews, before.previews, 'no audio fetched');
    // Pages of five as the API lists them (nulls and no-gen-ai sounds included), up to the seventh record's.
    const listedByApi = fx.sounds.filter((s) => s.duration <= 180 && s.samplerate >= 16000).sort((a, b) => (a.created < b.created ? -1 : 1));
    const seventh = listedByApi.findIndex((s) => s.id === expected[6]!.id);
    assert.equal(fx.stats.searches - before.searches, Math.floor(seventh / 5) + 1, 'pages up to the seventh record only');
    assert.deepEqual(await queueKeys(), [], 'nothing enqueued');

    const nc = await runCli([...freesound(), '--exclude-license', 'cc-by-nc-3.0,cc-by-nc-4.0'], { ...env, FREESOUND_API_KEY: fx.apiKey });
    assert.equal(nc.code, 0, nc.stderr);
    const kept = records(nc.stdout);
    const dropped = expected.filter((s) => /by-nc/.test(s.license)).length;
    assert.ok(dropped > 0);
    assert.equal(kept.length, expected.length - dropped);
    assert.ok(kept.every((r) => !r.license!.startsWith('cc-by-nc')));
    const optedOut = fx.sounds.filter((s) => !s.deleted && s.duration <= 180 && s.samplerate >= 16000 && s.gen_ai_preference === 'no-gen-ai').length;
    assert.ok(optedOut > 0);
    assert.match(nc.stderr, new RegExp(`excluded ${dropped} by licence, 0 by id and ${optedOut} by the provider's opt-out`));
  });

  it('says clearly when a remote source needs Redis and none answers', async () => {
    const result = await runCli(freesound(), { ...env, CLAPSET_REDIS_URL: 'redis://127.0.0.1:1', FREESOUND_API_KEY: fx.apiKey });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Redis does not answer at redis:\/\/127\.0\.0\.1:1/);
  });

  it('refuses bad --set values and unknown settings, naming field and value; and a recipe without its required settings', async () => {
    const tooBig = await runCli([...freesound(), '--set', 'pageSize=500']);
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.stderr, /invalid crawl options: source\.pageSize: .*\(got 500\)/);
    const typo = await runCli(['crawl', 'bbc', '--set', 'mediabase=http://x/', '--dry-run']);
    assert.match(typo.stderr, /source\.mediabase: not a setting of bbc sources \(got "http:\/\/x\/"\)/);
    const recipe = await runCli(['crawl', '--recipe', 'laion-audio-630k', '--dataset', join(work, 'ds'), '--set', 'sonniss.root=/b/s.zip']);
    assert.equal(recipe.code, 1);
    assert.match(recipe.stderr, /needs settings that have no safe default: --set epidemic\.categories=.*--set odeon\.root=/);
    assert.doesNotMatch(recipe.stderr, /sonniss\.root/);
  });
});
