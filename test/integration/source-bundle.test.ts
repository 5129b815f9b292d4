import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { connectRedis, deletePrefixedKeys } from '../../infra/redis/connection.ts';
import { RetriesExhaustedError } from '../../infra/http/index.ts';
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import { BUNDLE_PROVIDERS, sourceSpecSchema, type BundleSourceSpec } from '../../schemas/source-spec.ts';
import { BundleSource, createBundleSource } from '../../sources/bundle/bundle-source.ts';
import { BUNDLE_PROVIDER_INFO } from '../../sources/bundle/providers.ts';
import { compareUtf8 } from '../../sources/local/paths.ts';
import { createSource } from '../../sources/registry.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { transcodeBatch } from '../../workers/transcode/transcode-batch.ts';
import { BUNDLE_AUDIO, buildZip, bundleZipEntries, makeBundleTree } from '../../demo/providers/bundle-files.ts';
import { startBundleServer, type BundleServer } from '../../demo/providers/bundle-server.ts';
import { byId, collectRecords, rejectsWith } from '../helpers/source-assertions.ts';
import type { SourceContext } from '../../sources/source.ts';

const LIMITS = { maxBytes: 50_000_000 };
// Quick retries: the quirks below answer 5xx and cut bodies on purpose.
const FAST = { policy: { retries: 3, backoff: { baseMs: 20, capMs: 100, retryAfterCapMs: 100 } } };

let tmp: string;
let tree: string;
let zipFile: string;
let zipBytes: Buffer;
let files: Map<string, Buffer>;
let server: BundleServer;
let redis: Redis;
let context: SourceContext;
let workRoot: string;

/** The fixture's audio paths as a crawl must yield them: byte order of the path. */
const SORTED_PATHS = BUNDLE_AUDIO.map((f) => f.path).sort(compareUtf8);
const TOP = 'Sonniss.com - GDC 2024 - Game Audio Bundle';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'clapset-bundle-'));
  tree = join(tmp, 'tree');
  workRoot = join(tmp, 'work');
  files = await makeBundleTree(tree);
  zipBytes = buildZip(bundleZipEntries(files, { top: TOP, hostile: true }));
  zipFile = join(tmp, 'bundle.zip');
  await writeFile(zipFile, zipBytes);
  server = await startBundleServer({ root: tree, zips: { 'GDC 2024 Bundle 1of9.zip': zipFile } });
  redis = connectRedis(process.env.CLAPSET_REDIS_URL ?? 'redis://127.0.0.1:6379');
  context = { redis, prefix: `clapset-test-bundle-${randomUUID().slice(0, 8)}` };
});

after(async () => {
  await server?.close();
  if (redis) {
    await deletePrefixedKeys(redis, context.prefix);
    redis.disconnect();
  }
  await rm(tmp, { recursive: true, force: true });
});

// The default (4 per second) is for real servers; the fixture server takes more.
function spec(type: BundleSourceSpec['type'], root: string, extra: Record<string, unknown> = {}): BundleSourceSpec {
  return sourceSpecSchema.parse({ type, root, requestsPerSecond: 100, ...extra }) as BundleSourceSpec;
}

function source(type: BundleSourceSpec['type'], root: string, extra: Record<string, unknown> = {}): BundleSource {
  return createBundleSource(spec(type, root, extra), context, { ...FAST, workRoot });
}




/** Materialises, reads the bytes back, releases, and checks the file is gone. */
async function fetchBytes(src: BundleSource, record: ClipRecord, limits = LIMITS): Promise<Buffer> {
  const work = await mkdtemp(join(tmp, 'job-'));
  const audio = await src.materialise(record, work, limits);
  const bytes = await readFile(audio.path);
  await audio.release();
  assert.deepEqual(await readdir(work), [], 'release() leaves nothing in the work dir');
  return bytes;
}

describe('bundle sources: the four providers', () => {
  it('every provider lists the same clips from a listing (Apache, nginx), a zip URL, a folder and a local zip, with its own licence', async () => {
    const roots = [
      { root: `${server.url}/listing/`, zip: false },
      { root: `${server.url}/nginx`, zip: false },
      { root: tree, zip: false },
      { root: `${server.url}/zip/GDC%202024%20Bundle%201of9.zip`, zip: true },
      { root: zipFile, zip: true },
    ];
    for (const provider of BUNDLE_PROVIDERS) {
      for (const { root, zip } of roots) {
        const records = await collectRecords(source(provider, root));
        const prefix = zip ? `${TOP}/` : '';
        const expected = zip ? [...SORTED_PATHS.map((p) => prefix + p), '../escape/evil2.wav', '../evil.wav'].sort(compareUtf8) : SORTED_PATHS;
        assert.deepEqual(records.map((r) => r.id), expected, `${provider} ${root}`);
        for (const record of records) {
          assert.equal(record.source, provider);
          assert.equal(record.license, BUNDLE_PROVIDER_INFO[provider].defaultLicense);
        }
        const door = byId(records, `${prefix}Foley/Door Slam 01.aiff`);
        assert.deepEqual(door.text, ['Door Slam 01']);
        assert.deepEqual(door.tags, zip ? [TOP, 'Foley'] : ['Foley']);
        const gravel = byId(records, `${prefix}Foley/Footsteps/Gravel_Walk_Slow.WAV`);
        assert.deepEqual([gravel.text, gravel.tags.slice(-2)], [['Gravel Walk Slow'], ['Foley', 'Footsteps']]);
        assert.deepEqual(byId(records, `${prefix}Ambience/Rain.on.Roof.v2.final.wav`).text, ['Rain.on.Roof.v2.final']);
        assert.deepEqual(byId(records, `${prefix}Weapons & Impacts/Impact [Metal] #3 (50%).wav`).tags.at(-1), 'Weapons & Impacts');
        assert.deepEqual(byId(records, `${prefix}Weapons & Impacts/Impact [Metal] #3 (50%).wav`).text, ['Impact [Metal] #3 (50%)']);
        assert.deepEqual(byId(records, `${prefix}日本語の音.wav`).text, ['日本語の音']);
      }
    }
  });

  it('records the licence and name the spec sets', async () => {
    const records = await collectRecords(source('sonniss', `${server.url}/listing/`, { name: 'sonniss-gdc-2024', license: 'Sonniss GDC 2024 licence, ML use not permitted' }));
    assert.equal(records.length, SORTED_PATHS.length);
    assert.ok(records.every((r) => r.source === 'sonniss-gdc-2024' && r.license === 'Sonniss GDC 2024 licence, ML use not permitted'));
  });

  it('rule=laion takes WAV files only, captioned with the file name as written, from a folder and a listing alike', async () => {
    const wavs = SORTED_PATHS.filter((p) => /\.wav$/i.test(p));
    assert.ok(wavs.length < SORTED_PATHS.length, 'the fixture must hold non-WAV audio');
    for (const root of [tree, `${server.url}/listing/`]) {
      const records = await collectRecords(source('odeon', root, { rule: 'laion' }));
      assert.deepEqual(records.map((r) => r.id), wavs, root);
      assert.deepEqual(byId(records, 'Ambience/Forest_Birds Morning.wav').text, ['Forest_Birds Morning']);
      assert.deepEqual(byId(records, 'Foley/Footsteps/Gravel_Walk_Slow.WAV').text, ['Gravel_Walk_Slow']);
      assert.deepEqual(byId(records, 'Foley/Footsteps/Gravel_Walk_Slow.WAV').tags, ['Foley', 'Footsteps']);
    }
    // The default is clapset's rule: every audio type, `_` as spaces.
    assert.deepEqual(byId(await collectRecords(source('odeon', tree)), 'Ambience/Forest_Birds Morning.wav').text, ['Forest Birds Morning']);
  });

  it('is what the registry builds for each provider name; remote roots need the Redis context', () => {
    for (const provider of BUNDLE_PROVIDERS) {
      assert.ok(createSource(spec(provider, tree)) instanceof BundleSource, 'a local root needs no context');
      assert.ok(createSource(spec(provider, `${server.url}/listing/`), context) instanceof BundleSource);
      assert.throws(() => createSource(spec(provider, `${server.url}/listing/`)), /needs a SourceContext/);
    }
  });
});

describe('bundle source: directory listing', () => {
  it('crawls nested folders to the end, in byte order, the same as the folder itself, and fetches byte-exact', async () => {
    const listing = source('free-to-use-sounds', `${server.url}/listing/`);
    const records = await collectRecords(listing);
    const local = await collectRecords(source('free-to-use-sounds', tree));
    assert.deepEqual(records.map((r) => r.id), local.map((r) => r.id));
    assert.deepEqual(records.map((r) => [r.text, r.tags]), local.map((r) => [r.text, r.tags]));
    assert.equal(byId(records, 'Foley/Café Chairs – Scrape.wav').audio, 'url:Foley/Caf%C3%A9%20Chairs%20%E2%80%93%20Scrape.wav');
    for (const path of SORTED_PATHS) assert.ok((await fetchBytes(listing, byId(records, path))).equals(files.get(path)!), path);
    // Non-audio files are never fetched, sorting links never followed, nothing outside the listing asked for.
    const paths = server.requests.map((r) => decodeURIComponent(r.path));
    assert.ok(!paths.some((p) => p.includes('?') || p.endsWith('.pdf') || p.endsWith('.txt') || p.includes('.DS_Store') || p.includes('/._')), paths.join('\n'));
  });

  it('crawls the same through a redirect chain, a slow server and a 5xx burst', async () => {
    const expected = SORTED_PATHS;
    for (const root of [`${server.url}/redirect/3/listing/Foley/`, `${server.url}/slow/400/listing/Foley/`, `${server.url}/flaky/2/listing/`]) {
      const src = source('odeon', root);
      const records = await collectRecords(src);
      const sub = root.includes('Foley') ? expected.filter((p) => p.startsWith('Foley/')).map((p) => p.slice('Foley/'.length)) : expected;
      assert.deepEqual(records.map((r) => r.id), sub, root);
      const first = records[0]!;
      assert.ok((await fetchBytes(src, first)).equals(files.get(root.includes('Foley') ? `Foley/${first.id}` : first.id)!), root);
    }
    const burst = server.requests.filter((r) => r.path.startsWith('/flaky/2/listing/') && r.status === 503);
    assert.ok(burst.length >= 2, 'the burst was answered 503 and retried');
  });

  it('a body cut short is retried; one that never arrives whole is transient, not a clip failure', async () => {
    const src = source('we-sound-effects', `${server.url}/truncate/1/listing/`);
    const records = await collectRecords(src); // the first listing page came back cut short, and was asked again
    assert.deepEqual(records.map((r) => r.id), SORTED_PATHS);
    const whoosh = byId(records, 'Whoosh_Fast.aif');
    assert.ok((await fetchBytes(src, whoosh)).equals(files.get('Whoosh_Fast.aif')!));
    const cuts = server.requests.filter((r) => r.path === '/truncate/1/listing/Whoosh_Fast.aif');
    assert.deepEqual(cuts.map((r) => r.bytes < files.get('Whoosh_Fast.aif')!.length), [true, false]);

    const never = source('we-sound-effects', `${server.url}/truncate/99/listing/`);
    await assert.rejects(fetchBytes(never, whoosh), RetriesExhaustedError);
  });

  it('refuses files over the size cap and reports missing files', async () => {
    const src = source('odeon', `${server.url}/listing/`);
    const records = await collectRecords(src);
    const rain = byId(records, 'Ambience/Rain.on.Roof.v2.final.wav');
    await rejectsWith(fetchBytes(src, rain, { maxBytes: 1000 }), 'too_large', /announces \d+ bytes/);
    await rejectsWith(fetchBytes(src, { ...rain, id: 'ghost.wav', audio: 'url:ghost.wav' }), 'missing_file');
  });

  it('yields a file whose decoded name escapes, refuses it without a request, and ignores links that leave the listing', async () => {
    server.reset();
    const src = source('sonniss', `${server.url}/hostile/`);
    const records = await collectRecords(src);
    assert.deepEqual(records.map((r) => r.id), ['../evil.wav', ...SORTED_PATHS].sort(compareUtf8));
    const evil = byId(records, '../evil.wav');
    assert.equal(evil.audio, 'url:..%2Fevil.wav');
    await rejectsWith(src.materialise(evil, tmp, LIMITS), 'path_outside_collection');
    for (const audio of ['url:%2e%2e/%2e%2e/up.wav', 'url:a/../../up.wav', 'url:x.wav%3F/../../y.wav', 'file:x.wav']) {
      await assert.rejects(src.materialise({ ...evil, audio }, tmp, LIMITS), (e: unknown) => e instanceof ClipError, audio);
    }
    const asked = server.requests.map((r) => r.path);
    assert.ok(!asked.some((p) => /evil|outside|passwd|up\.wav/i.test(p)), asked.join('\n'));
  });
});

describe('bundle source: zip over HTTP', () => {
  const zipUrl = () => `${server.url}/zip/GDC%202024%20Bundle%201of9.zip`;

  it('lists the central directory and extracts members byte-exact with Range requests, never the whole archive', async () => {
    server.reset();
    const src = source('sonniss', zipUrl());
    const records = await collectRecords(src);
    const listed = server.bytesServed('/zip/');
    assert.ok(listed < 70_000, `listing read ${listed} bytes of ${zipBytes.length}`);
    const rain = byId(records, `${TOP}/Ambience/Rain.on.Roof.v2.final.wav`); // the deflated member
    const door = byId(records, `${TOP}/Foley/Door Slam 01.aiff`);
    assert.equal(door.audio, `zip:${TOP}/Foley/Door Slam 01.aiff`);
    assert.equal(door.bytes, files.get('Foley/Door Slam 01.aiff')!.length);
    assert.ok((await fetchBytes(src, door)).equals(files.get('Foley/Door Slam 01.aiff')!));
    assert.ok((await fetchBytes(src, rain)).equals(files.get('Ambience/Rain.on.Roof.v2.final.wav')!));
    const served = server.bytesServed('/zip/');
    const members = files.get('Foley/Door Slam 01.aiff')!.length + files.get('Ambience/Rain.on.Roof.v2.final.wav')!.length;
    assert.ok(served < zipBytes.length / 2, `served ${served} of ${zipBytes.length} bytes`);
    assert.ok(served < members + 3 * 70_000, `served ${served} bytes for ${members} bytes of members`);
    const zipRequests = server.requests.filter((r) => r.path.startsWith('/zip/'));
    assert.ok(zipRequests.every((r) => r.range !== undefined && r.status === 206), 'every request was a satisfied Range request');
  });

  it('refuses hostile member names and members over the cap without fetching them', async () => {
    const src = source('sonniss', zipUrl());
    const records = await collectRecords(src);
    for (const id of ['../evil.wav', '../escape/evil2.wav']) await rejectsWith(src.materialise(byId(records, id), tmp, LIMITS), 'path_outside_collection');
    server.reset();
    await rejectsWith(fetchBytes(src, byId(records, `${TOP}/Foley/Door Slam 01.aiff`), { maxBytes: 10_000 }), 'too_large');
    await rejectsWith(fetchBytes(src, { ...records[0]!, audio: `zip:${TOP}/nothing.wav` }), 'missing_file');
    assert.equal(server.bytesServed('/zip/'), 0, 'the cached central directory answered; no member data was fetched');
  });

  it('follows a redirect to the archive and survives bodies cut short, central directory and member data alike', async () => {
    const src = source('sonniss', `${server.url}/redirect/2/truncate/2/zip/GDC%202024%20Bundle%201of9.zip`, { format: 'zip' });
    const records = await collectRecords(src); // its first two requests were cut short
    assert.equal(records.length, SORTED_PATHS.length + 2);
    const whoosh = byId(records, `${TOP}/Whoosh_Fast.aif`);
    const expected = files.get('Whoosh_Fast.aif')!;
    assert.ok((await fetchBytes(src, whoosh)).equals(expected));
    // Again, with the member's local header cached: the first two requests now are for member data, both cut.
    server.reset();
    assert.ok((await fetchBytes(src, whoosh)).equals(expected));
    const data = server.requests.filter((r) => r.path.startsWith('/truncate/') && r.status === 206);
    assert.deepEqual(data.map((r) => r.bytes < expected.length), [true, true, false], JSON.stringify(data));
    assert.equal(data[2]!.bytes, expected.length);
  });

  it('downloads the archive whole, once, when the server ignores Range, within maxArchiveBytes', async () => {
    const url = `${server.url}/zip-norange/GDC%202024%20Bundle%201of9.zip`;
    await assert.rejects(collectRecords(source('sonniss', url, { maxArchiveBytes: 100_000 })), /over maxArchiveBytes/);
    server.reset();
    const src = source('sonniss', url);
    const records = await collectRecords(src);
    assert.equal(records.length, SORTED_PATHS.length + 2);
    const door = byId(records, `${TOP}/Foley/Door Slam 01.aiff`);
    assert.ok((await fetchBytes(src, door)).equals(files.get('Foley/Door Slam 01.aiff')!));
    // A second source on this host (another job) reuses the download.
    assert.ok((await fetchBytes(source('sonniss', url), door)).equals(files.get('Foley/Door Slam 01.aiff')!));
    const gets = server.requests.filter((r) => r.path.startsWith('/zip-norange/') && r.range === undefined);
    assert.equal(gets.length, 1, 'one whole download');
    assert.deepEqual(await readdir(join(workRoot, 'bundle-archives')).then((names) => names.filter((n) => n.endsWith('.part'))), []);
  });
});

describe('bundle source: into the transcoder', () => {
  it('materialised clips from a listing and a zip URL are the 24-bit/96 kHz stereo audio ffmpeg expects', async () => {
    const work = await mkdtemp(join(tmp, 'transcode-'));
    const inputs: { id: string; path: string }[] = [];
    const releases: (() => Promise<void>)[] = [];
    for (const root of [`${server.url}/listing/`, `${server.url}/zip/GDC%202024%20Bundle%201of9.zip`]) {
      const src = source('odeon', root);
      for (const record of await collectRecords(src)) {
        if (record.id.startsWith('..')) continue;
        const audio = await src.materialise(record, work, LIMITS);
        inputs.push({ id: `${inputs.length}`, path: audio.path });
        releases.push(audio.release);
      }
    }
    assert.equal(inputs.length, 2 * SORTED_PATHS.length);
    const outcomes = await transcodeBatch(inputs, work, { ffmpegPath: await locateFfmpeg() });
    for (const outcome of outcomes) {
      assert.ok(outcome.ok, JSON.stringify(outcome));
      assert.deepEqual([outcome.source.sampleRate, outcome.source.channels, outcome.source.bitDepth], [96000, 2, 24]);
    }
    await Promise.all(releases.map((release) => release()));
  });
});
