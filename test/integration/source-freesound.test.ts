/**
 * The Freesound adapter against the Freesound fixture server (real HTTP, real Redis, real audio):
 * records and LAION captions, pages built from the spec (not the `+`-mangling next links), nulls,
 * an empty query listing everything, previews from a second host, filters pushed to the API, gen_ai_preference exclusions, 404 past the end, 401, resume from a cursor, a 429/5xx
 * storm, previews and OAuth2 originals, and no credential in any log line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HostNotAllowedError, OptedOutError, TooLargeError } from '../../infra/http/errors.ts';
import { clipRecordSchema, type ClipRecord } from '../../schemas/clip.ts';
import { freesoundSourceSpecSchema } from '../../schemas/source-spec.ts';
import { FreesoundSource } from '../../sources/freesound/freesound-source.ts';
import { createSource } from '../../sources/registry.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';
import type { CrawlItem, SourceContext } from '../../sources/source.ts';

const ctx = testQueueContext();
let fx: FreesoundFixture;
let work: string;
const OAUTH = { clientId: 'fs-client-id-77', clientSecret: 'fs-client-secret-abcdef123', refreshToken: 'fs-refresh-initial-99887766' };
const logLines: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

function context(env: NodeJS.ProcessEnv = { FREESOUND_API_KEY: fx.apiKey }): SourceContext {
  return {
    redis: ctx.connection,
    prefix: ctx.prefix,
    env,
    http: { retries: 10, backoff: { baseMs: 10, capMs: 80, retryAfterCapMs: 500 }, timeouts: { connectMs: 2000, responseMs: 2000, idleMs: 500 } },
  };
}

function spec(extra: Record<string, unknown> = {}) {
  return freesoundSourceSpecSchema.parse({
    type: 'freesound',
    apiBase: fx.apiBase,
    mediaHosts: [fx.mediaHost],
    pageSize: 7,
    rate: [{ limit: 60, windowMs: 2000 }],
    mediaRate: [{ limit: 100, windowMs: 1000 }],
    ...extra,
  });
}

async function crawl(source: FreesoundSource, cursor?: string): Promise<CrawlItem[]> {
  const items: CrawlItem[] = [];
  for await (const item of source.crawl(cursor)) items.push(item);
  return items;
}

let baseline: CrawlItem[];
/** Access tokens the fixture stopped accepting mid-test: still secrets the logs must not show. */
const revokedTokens: string[] = [];

before(async () => {
  fx = await startFreesoundFixture({ throttle: { limit: 60, windowMs: 2000 }, oauth: { ...OAUTH } });
  work = await mkdtemp(join(tmpdir(), 'clapset-fs-'));
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logLines.push(String(chunk));
    return originalWrite(chunk as string, ...(rest as []));
  }) as typeof process.stderr.write;
  baseline = await crawl(new FreesoundSource(spec(), context()));
});

after(async () => {
  process.stderr.write = originalWrite;
  await fx.close();
  await rm(work, { recursive: true, force: true });
  await ctx.close();
});

describe('Freesound source', () => {
  it('turns search results into records with LAION captions, licence ids, tags and metadata', () => {
    const records = baseline.map((i) => clipRecordSchema.parse(i.record));
    const byName = (name: string) => records.find((r) => r.original.name === name);
    const door = byName('Door_Slam_01.wav')!;
    assert.deepEqual(door.text, ['Door Slam 01.', 'A heavy wooden door slams shut.']);
    assert.deepEqual(door.tags, ['door', 'slam', 'wood', 'foley']);
    assert.equal(door.license, 'cc0');
    assert.equal(door.source, 'freesound');
    assert.match(door.audio, new RegExp(`^${fx.cdn.origin}/previews/\\d+/${door.id}_\\d+-hq\\.mp3$`));
    assert.equal(door.original.description, 'A heavy wooden door slams shut. Recorded in an old farmhouse with a Zoom H4n.');
    assert.equal(door.original.username, 'farmfoley');

    const rain = byName('rain, "heavy" on tin roof.aiff')!;
    assert.deepEqual(rain.text, ['rain, "heavy" on tin roof.', 'Heavy rain on a tin roof, "very" loud; recorded at night.']);
    assert.equal(rain.license, 'cc-by-4.0');
    const cafe = byName('Café ambience – Paris «matin».flac')!;
    assert.deepEqual(cafe.text, ['Café ambience – Paris «matin».', 'Ambiance de café à Paris, très animée!']);
    assert.equal(cafe.license, 'cc-by-nc-4.0');
    // HTML in the first sentence: caption 2 dropped; the description is still kept.
    const synth = byName('synth_pad.mp3')!;
    assert.deepEqual(synth.text, ['synth pad.']);
    assert.match(String(synth.original.description), /<a href=/);
    assert.equal(synth.license, 'sampling+');
    // Only the last extension goes; a decimal point does not end the first sentence.
    const bird = byName('bird.song.final.mp3')!;
    assert.deepEqual(bird.text, ['bird.song.final.', 'Blackbird singing at dawn (3.5 kHz peak).']);
    assert.equal(bird.license, 'cc-by-nc-3.0');
  });

  it('pushes the duration and sample-rate filters into the API and marks no-gen-ai sounds opted out (for the crawl to count)', () => {
    const names = baseline.map((i) => i.record.original.name);
    assert.ok(!names.includes('long_drone.wav'), '600 s sound must be filtered by the API');
    assert.ok(!names.includes('old_phone_8k.wav'), '8 kHz sound must be filtered by the API');
    const thunder = baseline.find((i) => i.record.original.name === 'Thunder roll')!.record;
    assert.equal(thunder.optedOut, 'gen_ai_preference: no-gen-ai');
    const optedOut = fx.sounds.filter((s) => s.gen_ai_preference === 'no-gen-ai' && !s.deleted && s.duration <= 180 && s.samplerate >= 16000);
    assert.ok(optedOut.length >= 2);
    assert.deepEqual(baseline.filter((i) => i.record.optedOut !== undefined).map((i) => i.record.id).sort(), optedOut.map((s) => String(s.id)).sort());
    // Other preferences are kept as they are.
    assert.equal(baseline.find((i) => i.record.original.name === 'bird.song.final.mp3')!.record.optedOut, undefined);
  });

  it('pages to the end with pages built from the spec, auth in the header, skipping nulls, in created order', () => {
    const expected = fx.sounds
      .filter((s) => !s.deleted && s.duration <= 180 && s.samplerate >= 16000)
      .sort((a, b) => (a.created < b.created ? -1 : 1))
      .map((s) => String(s.id));
    assert.deepEqual(baseline.map((i) => i.record.id), expected);
    assert.ok(fx.sounds.some((s) => s.deleted), 'the fixture must list some nulls');
    // Every search carried the key in the header; none carried it in the URL.
    assert.deepEqual([...fx.stats.authSeen], [`Token ${fx.apiKey}`]);
  });

  it('keeps a Sampling+ filter on every page (following the next links would turn + into a space)', async () => {
    const sampling = fx.sounds.filter((s) => !s.deleted && s.license.includes('sampling+') && s.duration <= 180 && s.samplerate >= 16000);
    assert.ok(sampling.length > 2, 'the fixture must list Sampling+ sounds over several pages');
    const items = await crawl(new FreesoundSource(spec({ filter: 'license:"Sampling+"', pageSize: 2 }), context()));
    assert.deepEqual(items.map((i) => i.record.id).sort(), sampling.map((s) => String(s.id)).sort());
    assert.ok(items.every((i) => i.record.license === 'sampling+'));
  });

  it('resumes from a cursor mid-page and at a page boundary without loss or duplicates', async () => {
    for (const k of [3, 6, 13, baseline.length - 2]) {
      const rest = await crawl(new FreesoundSource(spec(), context()), baseline[k]!.cursor);
      assert.deepEqual(rest.map((i) => i.record.id), baseline.slice(k + 1).map((i) => i.record.id), `resume after item ${k}`);
      assert.deepEqual(rest.map((i) => i.cursor), baseline.slice(k + 1).map((i) => i.cursor));
    }
    // The last cursor resumes to nothing; a page past the end answers 404, which ends the crawl.
    assert.deepEqual(await crawl(new FreesoundSource(spec(), context()), baseline.at(-1)!.cursor), []);
    assert.deepEqual(await crawl(new FreesoundSource(spec(), context()), JSON.stringify({ page: 99, index: -1 })), []);
  });

  it('stops with a clear error on 401, naming the variable and never the key', async () => {
    const source = new FreesoundSource(spec(), context({ FREESOUND_API_KEY: 'wrong-key-1234567' }));
    await assert.rejects(crawl(source), (error: Error) => {
      assert.match(error.message, /refused the key in FREESOUND_API_KEY \(HTTP 401: Invalid token\.\)/);
      assert.ok(!error.message.includes('wrong-key-1234567'));
      return true;
    });
    await assert.rejects(crawl(new FreesoundSource(spec(), context({}))), /set FREESOUND_API_KEY/);
  });

  it('survives a 429 storm and a 5xx burst with no record lost', async () => {
    const source = new FreesoundSource(spec(), context());
    const items: CrawlItem[] = [];
    const before = await readCounters('freesound');
    for await (const item of source.crawl()) {
      items.push(item);
      if (items.length === 8) {
        fx.faults.next429 = 7;
        fx.faults.next5xx = 3;
      }
    }
    assert.deepEqual(items.map((i) => i.record.id), baseline.map((i) => i.record.id));
    const now = await readCounters('freesound');
    assert.equal(now.http_429 - before.http_429, 7);
    assert.ok(now.backoffs - before.backoffs >= 10);
    assert.equal(fx.faults.next429, 0);
  });

  it('downloads previews (real MP3), excluding noai previews and refusing foreign redirects (counted)', async () => {
    const source = createSource(spec(), context());
    const [a, b, c, d] = baseline.map((i) => i.record);
    const audio = await source.materialise(a!, work, { maxBytes: 10_000_000 });
    assert.deepEqual(await readFile(audio.path), await readFile(fx.assets.files['hq.mp3']!.path));
    await audio.release();

    fx.faults.previews.set(Number(b!.id), { robots: 'noai' });
    await assert.rejects(source.materialise(b!, work, { maxBytes: 10_000_000 }), OptedOutError);
    fx.faults.previews.set(Number(c!.id), { redirectTo: 'http://127.0.0.1:9/admin' });
    await assert.rejects(source.materialise(c!, work, { maxBytes: 10_000_000 }), HostNotAllowedError);
    await assert.rejects(source.materialise(d!, work, { maxBytes: 1000 }), TooLargeError);
    const media = await readCounters('freesound-media');
    assert.equal(media.robots_excluded, 1);
    assert.equal(media.redirects_refused, 1);
    assert.equal(media.too_large, 1);
  });

  it('downloads originals with OAuth2, refreshing an expired token on 401, one refresh for all workers', async () => {
    const env = {
      FREESOUND_API_KEY: fx.apiKey,
      FREESOUND_OAUTH_TOKEN: 'fs-expired-access-token-000',
      FREESOUND_REFRESH_TOKEN: OAUTH.refreshToken,
      FREESOUND_CLIENT_ID: OAUTH.clientId,
      FREESOUND_CLIENT_SECRET: OAUTH.clientSecret,
    };
    const source = new FreesoundSource(spec({ audio: 'original', maxPages: 1 }), context(env));
    const records: ClipRecord[] = [];
    for await (const record of source.records()) records.push(record);
    assert.match(records[0]!.audio, /\/apiv2\/sounds\/\d+\/download\/$/);
    for (const record of records.slice(0, 3)) {
      const audio = await source.materialise(record, work, { maxBytes: 10_000_000 });
      assert.deepEqual(await readFile(audio.path), await readFile(fx.assets.files['original.wav']!.path));
      assert.match(audio.path, /\.(wav|aiff|flac|mp3)$/);
      await audio.release();
    }
    assert.equal(fx.stats.refreshes, 1);
    assert.equal(fx.stats.downloads, 3);

    // Freesound rotates the refresh token on use. Workers started with the same (now spent) tokens
    // take the newest ones from Redis instead of refreshing again...
    const workers = [1, 2, 3].map(() => new FreesoundSource(spec({ audio: 'original', maxPages: 1 }), context(env)));
    const fetchAll = () => Promise.all(workers.map(async (worker, i) => (await worker.materialise(records[i]!, work, { maxBytes: 10_000_000 })).release()));
    await fetchAll();
    assert.equal(fx.stats.refreshes, 1, 'the shared token served every worker');
    // ...and when the access token is revoked under all of them at once, one refreshes (under the
    // Redis lock) and the others use its tokens: with a refresh each, all but one would fail.
    revokedTokens.push(...fx.oauth.validAccessTokens);
    fx.oauth.validAccessTokens.clear();
    await fetchAll();
    assert.equal(fx.stats.refreshes, 2, 'one refresh for three workers');
    assert.equal(fx.stats.downloads, 3 + 6);
    // Without any OAuth credentials an original cannot be fetched: a clear, transient error.
    const bare = new FreesoundSource(spec({ audio: 'original' }), context());
    await assert.rejects(bare.materialise(records[0]!, work, { maxBytes: 1e7 }), /need an OAuth2 access token in FREESOUND_OAUTH_TOKEN/);
  });

  it('kept every credential out of every log line', () => {
    const logged = logLines.join('');
    assert.ok(logged.includes('backing off'), 'the storm should have been logged');
    for (const secret of [fx.apiKey, OAUTH.clientSecret, OAUTH.refreshToken, 'fs-expired-access-token-000', ...revokedTokens, ...fx.oauth.validAccessTokens]) {
      assert.ok(!logged.includes(secret), `a credential reached the log: ${secret.slice(0, 6)}…`);
    }
  });

  it('never exceeded the fixture throttle', () => {
    assert.ok(fx.stats.api.max <= 60, `max ${fx.stats.api.max} requests in a window`);
  });
});

async function readCounters(provider: string) {
  const { readProviderCounters } = await import('../../infra/http/counters.ts');
  return readProviderCounters(ctx.connection, ctx.prefix, provider);
}
