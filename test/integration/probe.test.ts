/**
 * `clapset probe <source> --json` from the real binary against every provider fixture, healthy and
 * drifted: a healthy probe reports reachable, authorised, format and media yes, the provider's total
 * where it states one, and costs one listing request plus one ranged media request; a drifted one
 * (refused, listing changed or gone, media gone or not audio) exits 1 and names what changed.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAudiostockFixture, type AudiostockFixture } from '../../demo/providers/audiostock-server.ts';
import { startBbcFixture, type BbcFixture } from '../../demo/providers/bbc-server.ts';
import { startBundleServer, type BundleServer } from '../../demo/providers/bundle-server.ts';
import { startEpidemicFixture, type EpidemicFixture } from '../../demo/providers/epidemic-server.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import type { ProbeReport } from '../../sources/probe.ts';
import { runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
const SESSION = { cookie: 'sessionid=probe-session-0123456789', csrfToken: 'csrf-probe-abcdef' };
const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_LOG_LEVEL: 'warn', EPIDEMIC_COOKIE: SESSION.cookie, EPIDEMIC_CSRF_TOKEN: SESSION.csrfToken };
const FAST = '[{"limit":500,"windowMs":1000}]';
let fs: FreesoundFixture;
let bbc: BbcFixture;
let epidemic: EpidemicFixture;
let audiostock: AudiostockFixture;
let bundles: BundleServer;
let work: string;

const sets = {
  freesound: () => ['--set', `apiBase=${fs.apiBase}`, '--set', `mediaHosts=["${fs.mediaHost}"]`, '--set', `rate=${FAST}`, '--set', `mediaRate=${FAST}`],
  bbc: () => ['--set', `index=${bbc.csvUrl}`, '--set', `mediaBase=${bbc.mediaBase}`, '--set', `rate=${FAST}`],
  epidemic: () => ['--set', `siteBase=${epidemic.siteBase}`, '--set', `mediaHosts=["${epidemic.cdn.host}"]`, '--set', 'categories=["Animals"]', '--set', `rate=${FAST}`],
  audiostock: () => ['--set', `listUrl=${audiostock.listUrl}`, '--set', `mediaHosts=["${audiostock.previews.host}"]`, '--set', `rate=${FAST}`],
};

async function probe(source: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: ProbeReport; stderr: string }> {
  const result = await runCli(['probe', source, ...args, '--json'], { ...env, ...extraEnv });
  assert.ok(result.stdout.trim() !== '', `no report: ${result.stderr}`);
  return { code: result.code, report: JSON.parse(result.stdout) as ProbeReport, stderr: result.stderr };
}

function assertHealthy({ code, report, stderr }: Awaited<ReturnType<typeof probe>>, total: number | null): void {
  assert.equal(code, 0, `${JSON.stringify(report)}\n${stderr}`);
  assert.deepEqual(
    { ok: report.ok, reachable: report.reachable, authorised: report.authorised, format: report.format, media: report.media, total: report.total, problems: report.problems },
    { ok: true, reachable: true, authorised: true, format: true, media: true, total, problems: [] },
  );
}

function assertDrift({ code, report }: Awaited<ReturnType<typeof probe>>, failed: Partial<Pick<ProbeReport, 'reachable' | 'authorised' | 'format' | 'media'>>, problem: RegExp): void {
  assert.equal(code, 1, JSON.stringify(report));
  assert.equal(report.ok, false);
  for (const [column, value] of Object.entries(failed)) assert.equal(report[column as keyof ProbeReport], value, `${column} in ${JSON.stringify(report)}`);
  assert.ok(report.problems.some((p) => problem.test(p)), `no problem matching ${problem}: ${JSON.stringify(report.problems)}`);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-probe-'));
  await mkdir(join(work, 'bundle', 'Doors'), { recursive: true });
  await makeTone(join(work, 'bundle', 'Doors', 'Door_Slam.wav'), { seconds: 0.5, sampleRate: 48000, channels: 2, format: 'wav' });
  [fs, bbc, epidemic, audiostock, bundles] = await Promise.all([
    startFreesoundFixture({ throttle: { limit: 500, windowMs: 1000 } }),
    startBbcFixture(),
    startEpidemicFixture({ session: SESSION }),
    startAudiostockFixture(),
    startBundleServer({ root: join(work, 'bundle') }),
  ]);
});

after(async () => {
  await Promise.all([fs.close(), bbc.close(), epidemic.close(), audiostock.close(), bundles.close()]);
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

describe('clapset probe', () => {
  it('freesound: healthy in two requests (count as the total); drifted fields, a refused key, gone previews', async () => {
    const key = { FREESOUND_API_KEY: fs.apiKey };
    const before = { searches: fs.stats.searches, previews: fs.stats.previews };
    const listed = fs.sounds.filter((s) => s.duration <= 180 && s.samplerate >= 16000).length;
    assertHealthy(await probe('freesound', sets.freesound(), key), listed);
    assert.deepEqual({ searches: fs.stats.searches - before.searches, previews: fs.stats.previews - before.previews }, { searches: 1, previews: 1 });

    fs.faults.drift = 'renamed';
    try {
      assertDrift(await probe('freesound', sets.freesound(), key), { format: false, media: null }, /listing: freesound: .*none of the 3 listed items has the fields the adapter reads/);
    } finally {
      fs.faults.drift = null;
    }
    assertDrift(await probe('freesound', sets.freesound(), { FREESOUND_API_KEY: 'wrong-key-0123456789' }), { authorised: false }, /refused the key in FREESOUND_API_KEY/);
    // Nothing listening: not reachable (after the probe's single retry).
    assertDrift(await probe('freesound', [...sets.freesound(), '--set', 'apiBase=http://127.0.0.1:1/apiv2/'], key), { reachable: false, media: null }, /^listing: .*127\.0\.0\.1:1/);
    for (const s of fs.sounds) fs.faults.previews.set(s.id, { status: 404 });
    try {
      assertDrift(await probe('freesound', sets.freesound(), key), { format: true, media: false }, /media: \S+\/previews\/\S+ answered HTTP 404/);
    } finally {
      fs.faults.previews.clear();
    }
  });

  it('bbc: healthy (rows as the total); a sign-in page instead of the index, a WAV gone', async () => {
    const listed = bbc.rows.length;
    assertHealthy(await probe('bbc', sets.bbc()), listed);
    bbc.faults.drift = 'signin';
    try {
      assertDrift(await probe('bbc', sets.bbc()), { format: false }, /HTML where a CSV index was expected/);
    } finally {
      bbc.faults.drift = null;
    }
    bbc.faults.wavs.set(bbc.rows[0]!.location, { status: 404 });
    try {
      assertDrift(await probe('bbc', sets.bbc()), { format: true, media: false }, /media: \S+\/wav\/07076051\.wav answered HTTP 404/);
    } finally {
      bbc.faults.wavs.clear();
    }
  });

  it('epidemic: healthy with a session (totalTracks as the total); without one it is not authorised', async () => {
    assertHealthy(await probe('epidemic', sets.epidemic()), epidemic.categories.Animals!.length);
    assertDrift(await probe('epidemic', sets.epidemic(), { EPIDEMIC_COOKIE: '' }), { authorised: false, media: null }, /a bot challenge page\); the site JSON needs a logged-in session: set EPIDEMIC_COOKIE/);
  });

  it('audiostock: healthy through the play redirect (no total stated); the listing gone, a play URL that leads to HTML', async () => {
    assertHealthy(await probe('audiostock', sets.audiostock()), null);
    audiostock.faults.drift = 'missing';
    try {
      assertDrift(await probe('audiostock', sets.audiostock()), { reachable: true, format: false }, /answered HTTP 404 on the first page/);
    } finally {
      audiostock.faults.drift = null;
    }
    audiostock.faults.playRedirects.set(audiostock.items[0]!.id, `${audiostock.site.origin}/se?page=1`);
    try {
      assertDrift(await probe('audiostock', sets.audiostock()), { media: false }, /media: \S+\/audio\/1000123\/play answered text\/html; charset=utf-8, and its first bytes are not audio/);
    } finally {
      audiostock.faults.playRedirects.clear();
    }
  });

  it('bundles: a listing with a WAV is healthy; a listing that is gone is a 404 first page', async () => {
    assertHealthy(await probe('odeon', ['--root', `${bundles.url}/listing/`]), null);
    assertDrift(await probe('odeon', ['--root', `${bundles.url}/listing/gone/`]), { format: false, media: null }, /listing: bundle-\S+: \S+\/listing\/gone\/ answered HTTP 404 on the first page; check root/);
  });

  it('prints a readable report without --json', async () => {
    const result = await runCli(['probe', 'bbc', ...sets.bbc()], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^bbc: ok\n {2}reachable {7}yes\n {2}authorised {6}yes\n {2}format {10}yes\n {2}media {11}yes \(\S+\/wav\/07076051\.wav\)\n {2}provider total {2}24\n$/);
  });
});
