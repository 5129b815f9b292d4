/**
 * Never an empty success: every remote adapter, through the real binary (`clapset crawl <source>
 * --dry-run --json`), against its fixture answering as a broken, moved or changed service would —
 * login wall, bot challenge, 404 first page, HTML instead of JSON/CSV, renamed fields or header,
 * nothing listed — exits non-zero with a message naming the provider, the URL, the status and what
 * to do, and prints no record. Also: the Epidemic session from the environment (sent to the site,
 * never to the CDN or a log line), and a real crawl (workers, dataset) failing the same way.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAudiostockFixture, type AudiostockDrift, type AudiostockFixture } from '../../demo/providers/audiostock-server.ts';
import { startBbcFixture, type BbcDrift, type BbcFixture } from '../../demo/providers/bbc-server.ts';
import { startEpidemicFixture, type EpidemicDrift, type EpidemicFixture } from '../../demo/providers/epidemic-server.ts';
import { startFreesoundFixture, type FreesoundDrift, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
const SESSION = { cookie: 'sessionid=fixture-session-0123456789; csrftoken=csrf-fixture-abcdef', csrfToken: 'csrf-fixture-abcdef' };
const env = {
  ...process.env,
  CLAPSET_REDIS_URL: TEST_REDIS_URL,
  CLAPSET_PREFIX: ctx.prefix,
  CLAPSET_LOG_LEVEL: 'warn',
  EPIDEMIC_COOKIE: SESSION.cookie,
  EPIDEMIC_CSRF_TOKEN: SESSION.csrfToken,
};
let fs: FreesoundFixture;
let bbc: BbcFixture;
let epidemic: EpidemicFixture;
let audiostock: AudiostockFixture;
let work: string;

const FAST = '[{"limit":500,"windowMs":1000}]';
const args = {
  freesound: () => ['crawl', 'freesound', '--set', `apiBase=${fs.apiBase}`, '--set', `mediaHosts=["${fs.mediaHost}"]`, '--set', `rate=${FAST}`],
  bbc: () => ['crawl', 'bbc', '--set', `index=${bbc.csvUrl}`, '--set', `mediaBase=${bbc.mediaBase}`, '--set', `searchApi=${bbc.searchApi}`, '--set', `rate=${FAST}`],
  epidemic: () => ['crawl', 'epidemic', '--set', `siteBase=${epidemic.siteBase}`, '--set', `mediaHosts=["${epidemic.cdn.host}"]`, '--set', 'categories=["Animals","Foley"]', '--set', `rate=${FAST}`],
  audiostock: () => ['crawl', 'audiostock', '--set', `listUrl=${audiostock.listUrl}`, '--set', `mediaHosts=["${audiostock.previews.host}"]`, '--set', `rate=${FAST}`],
};

const dryRun = (argv: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli([...argv, '--dry-run', '--json'], { ...env, ...extraEnv });

/** A failed run: exit 1, no record printed, the message on stderr. */
function assertFails(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 1, `expected exit 1, got ${result.code}\n${result.stderr}`);
  assert.equal(result.stdout.trim(), '', 'no record may be printed');
  assert.match(result.stderr, message);
}

async function withDrift<D>(faults: { drift: D | null }, drift: D, run: () => Promise<void>): Promise<void> {
  faults.drift = drift;
  try {
    await run();
  } finally {
    faults.drift = null;
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-first-page-'));
  [fs, bbc, epidemic, audiostock] = await Promise.all([
    startFreesoundFixture({ throttle: { limit: 500, windowMs: 1000 } }),
    startBbcFixture(),
    startEpidemicFixture({ session: SESSION }),
    startAudiostockFixture(),
  ]);
});

after(async () => {
  await Promise.all([fs.close(), bbc.close(), epidemic.close(), audiostock.close()]);
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

describe('a first page that is not a usable page ends the dry run with an error', () => {
  it('freesound: refusal, challenge, 404, HTML, renamed fields, no results', async () => {
    const key = { FREESOUND_API_KEY: fs.apiKey };
    const url = `${fs.apiBase}search/`.replace(/[/.?]/g, '\\$&');
    const cases: [FreesoundDrift, RegExp][] = [
      ['login', /freesound: the API refused the key in FREESOUND_API_KEY \(HTTP 403: You do not have permission/],
      ['challenge', new RegExp(`freesound: ${url}\\?\\S+ answered HTTP 403 \\(a bot challenge page\\); check the key in FREESOUND_API_KEY`)],
      ['missing', new RegExp(`freesound: ${url}\\?\\S+ answered HTTP 404 on the first page; check apiBase`)],
      ['html', /freesound: \S+ answered HTTP 200 with HTML where JSON was expected/],
      ['renamed', /freesound: \S+: none of the 3 listed items has the fields the adapter reads \(first: result 0: id: /],
      ['empty', /freesound: \S+ listed no records on the first page although it reports 40; check apiBase/],
    ];
    for (const [drift, message] of cases) {
      await withDrift(fs.faults, drift, async () => assertFails(await dryRun(args.freesound(), key), message));
    }
    // A query that matches nothing is not a successful crawl either.
    assertFails(await dryRun([...args.freesound(), '--set', 'query=no-such-sound-anywhere'], key), /listed no records on the first page \(it reports 0\)/);
    // The key never reaches the output, even in the URL of a message.
    const refused = await dryRun(args.freesound(), { FREESOUND_API_KEY: 'wrong-key-0123456789' });
    assertFails(refused, /refused the key in FREESOUND_API_KEY \(HTTP 401: Invalid token\.\)/);
    assert.ok(!refused.stderr.includes('wrong-key-0123456789'));
  });

  it('bbc: no index, a sign-in page, 404, a renamed header, an empty index; search renamed and empty', async () => {
    assertFails(await dryRun(['crawl', 'bbc']), /bbc: no index: set index to a path or http\(s\) URL of a copy of the public BBCSoundEffects\.csv .*bbcsfx\.acropolis\.org\.uk is dead/);
    assertFails(await dryRun(['crawl', 'bbc', '--set', `index=${join(work, 'missing.csv')}`]), /bbc: cannot read the index \S+missing\.csv \(ENOENT\)/);
    const csv = bbc.csvUrl.replace(/[/.?]/g, '\\$&');
    const cases: [BbcDrift, RegExp][] = [
      ['signin', new RegExp(`bbc: ${csv} answered HTTP 200 with HTML where a CSV index was expected`)],
      ['missing', new RegExp(`bbc: ${csv} answered HTTP 404 on the first page; set index to a path`)],
      ['renamed', /bbc: \S+ answered in a format the adapter does not know: the index has no location, description column \(header: "file,desc,secs"\)/],
      ['empty', /bbc: \S+ listed no records on the first page \(it reports 0\)/],
    ];
    for (const [drift, message] of cases) await withDrift(bbc.faults, drift, async () => assertFails(await dryRun(args.bbc()), message));
    const search = [...args.bbc(), '--set', 'mode=search'];
    await withDrift(bbc.faults, 'renamed', async () => assertFails(await dryRun(search), /bbc: \S+api\/sfx\/search: none of the 3 listed items has the fields the adapter reads \(first: BBC search result without a usable id/));
    await withDrift(bbc.faults, 'empty', async () => assertFails(await dryRun(search), /bbc: \S+ listed no records on the first page \(it reports 0\)/));
  });

  it('epidemic: no session (challenge), an expired one (401), HTML, 404, renamed fields, nothing; a good session lists and stays secret', async () => {
    const anonymous = await dryRun(args.epidemic(), { EPIDEMIC_COOKIE: '', EPIDEMIC_CSRF_TOKEN: '' });
    assertFails(anonymous, /epidemic: \S+json\/search\/sfx\/\S+ answered HTTP 403 \(a bot challenge page\); the site JSON needs a logged-in session: set EPIDEMIC_COOKIE .*Partner Content API/);
    const expired = await dryRun(args.epidemic(), { EPIDEMIC_COOKIE: 'sessionid=expired-9876543210' });
    assertFails(expired, /answered HTTP 401 \(a refusal\); the site JSON needs a logged-in session: the one in EPIDEMIC_COOKIE was refused \(expired\?\)/);
    assert.ok(!expired.stderr.includes('expired-9876543210'), 'the cookie reached the output');
    const cases: [EpidemicDrift, RegExp][] = [
      ['html', /epidemic: \S+ answered HTTP 200 with HTML where JSON was expected/],
      ['missing', /epidemic: \S+ answered HTTP 404 on the first page; check siteBase/],
      ['renamed', /epidemic: \S+: none of the 2 listed items has the fields the adapter reads \(first: Epidemic track 1 has no stems\.full\.lqMp3Url\)/],
      ['empty', /epidemic: \S+ listed no records on the first page \(it reports 0\)/],
    ];
    for (const [drift, message] of cases) await withDrift(epidemic.faults, drift, async () => assertFails(await dryRun(args.epidemic()), message));

    const seen = epidemic.stats.siteHeaders.length;
    const ok = await dryRun(args.epidemic(), { CLAPSET_LOG_LEVEL: 'debug' });
    assert.equal(ok.code, 0, ok.stderr);
    // Every track of both categories once (one is filed under both: the dry run drops the repeat).
    assert.equal(ok.stdout.trim().split('\n').length, new Set([...epidemic.categories.Animals!, ...epidemic.categories.Foley!].map((t) => t.id)).size);
    const sent = epidemic.stats.siteHeaders.slice(seen);
    assert.ok(sent.length > 0 && sent.every((h) => h.cookie === SESSION.cookie && h['x-csrftoken'] === SESSION.csrfToken));
    assert.ok(!ok.stderr.includes('fixture-session-0123456789') && !ok.stderr.includes(SESSION.csrfToken), 'the session reached a log line');
  });

  it('audiostock: 404 first page (audiostock.net today), a challenge, a login page, changed markup', async () => {
    const list = audiostock.listUrl.replace('{page}', '1').replace(/[/.?]/g, '\\$&');
    const cases: [AudiostockDrift, RegExp][] = [
      ['missing', new RegExp(`audiostock: ${list} answered HTTP 404 on the first page; check listUrl \\(.*audiostock\\.net is gone, the site is audiostock\\.jp\\)`)],
      ['challenge', new RegExp(`audiostock: ${list} answered HTTP 403 \\(a bot challenge page\\)`)],
      ['login', new RegExp(`audiostock: ${list} listed no records on the first page; check listUrl`)],
      ['renamed', /audiostock: \S+ listed no records on the first page; .*div\.player-item/],
    ];
    for (const [drift, message] of cases) await withDrift(audiostock.faults, drift, async () => assertFails(await dryRun(args.audiostock()), message));
  });

  it('a real crawl (workers, dataset) of a missing listing fails with the same message, exit 1', async () => {
    await withDrift(audiostock.faults, 'missing', async () => {
      const result = await runCli([...args.audiostock(), '--dataset', join(work, 'ds'), '--workers', '1'], env);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /audiostock: \S+ answered HTTP 404 on the first page/);
    });
  });
});
