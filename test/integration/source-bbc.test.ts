/**
 * The BBC adapter against the BBC fixture (index/API host + separate WAV host): the messy CSV read
 * into records in file order (from a URL or a local path), the search API paged, resume from a
 * cursor, and real WAV downloads with their failure modes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readProviderCounters } from '../../infra/http/counters.ts';
import { HostNotAllowedError, OptedOutError, TooLargeError } from '../../infra/http/errors.ts';
import { clipRecordSchema } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import { bbcSourceSpecSchema } from '../../schemas/source-spec.ts';
import { BbcSource } from '../../sources/bbc/bbc-source.ts';
import { startBbcFixture, type BbcFixture } from '../../demo/providers/bbc-server.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';
import type { CrawlItem, SourceContext } from '../../sources/source.ts';

const ctx = testQueueContext();
let fx: BbcFixture;
let work: string;

const context = (): SourceContext => ({
  redis: ctx.connection,
  prefix: ctx.prefix,
  http: { retries: 5, backoff: { baseMs: 10, capMs: 50, retryAfterCapMs: 200 }, timeouts: { connectMs: 2000, responseMs: 2000, idleMs: 400 } },
});

const spec = (extra: Record<string, unknown> = {}) =>
  bbcSourceSpecSchema.parse({ type: 'bbc', index: fx.csvUrl, mediaBase: fx.mediaBase, searchApi: fx.searchApi, rate: [{ limit: 200, windowMs: 1000 }], ...extra });

async function crawl(source: BbcSource, cursor?: string): Promise<CrawlItem[]> {
  const items: CrawlItem[] = [];
  for await (const item of source.crawl(cursor)) items.push(item);
  return items;
}

before(async () => {
  fx = await startBbcFixture();
  work = await mkdtemp(join(tmpdir(), 'clapset-bbc-'));
});
after(async () => {
  await fx.close();
  await rm(work, { recursive: true, force: true });
  await ctx.close();
});

describe('BBC source (CSV index)', () => {
  it('parses the messy index into records in file order: description caption, category + CD tags', async () => {
    const items = await crawl(new BbcSource(spec(), context()));
    assert.equal(items.length, fx.rows.length);
    const records = items.map((i) => clipRecordSchema.parse(i.record));
    const [engine, crowd, cafe, tram, broken] = records;
    assert.equal(engine!.id, '07076051');
    assert.equal(engine!.audio, `${fx.mediaBase}07076051.wav`);
    assert.deepEqual(engine!.text, ['Two-stroke petrol engine driving small elevator, start, run, stop.']);
    assert.deepEqual(engine!.tags, ['Engines', 'Petrol', 'Diesel & Petrol Engines']);
    assert.equal(engine!.license, 'bbc-remarc');
    assert.equal(engine!.original.secs, 194);
    assert.equal(engine!.original.CDNumber, 'EC117D');
    assert.deepEqual(crowd!.text, ['Crowd at football match, "Come on you Reds!" chant, 1978.']);
    assert.deepEqual(crowd!.tags, ['Sport', 'Football', 'Football, Crowds']);
    assert.deepEqual(cafe!.text, ['Café in Montmartre — cups, saucers & murmured conversation (Français).']);
    assert.deepEqual(cafe!.tags, ['Paris Atmospheres'], 'an empty category gives no tag');
    assert.deepEqual(tram!.tags, ['Transport', 'Trams', 'Europe']);
    assert.match(broken!.invalid!, /unusable location ""/);
    await assert.rejects(new BbcSource(spec(), context()).materialise(broken!, work, { maxBytes: 1e7 }), { reason: 'invalid_record' });
    assert.deepEqual(records.slice(5).map((r) => `${r.id}.wav`), fx.rows.slice(5).map((r) => r.location));
  });

  it('reads the same index from a local path', async () => {
    const path = join(work, 'BBCSoundEffects.csv');
    await writeFile(path, fx.csvText);
    const fromUrl = await crawl(new BbcSource(spec(), context()));
    const fromFile = await crawl(new BbcSource(spec({ index: path }), context()));
    assert.deepEqual(fromFile.map((i) => i.record.id), fromUrl.map((i) => i.record.id));
  });

  it('resumes from a cursor without loss or duplicates', async () => {
    const all = await crawl(new BbcSource(spec(), context()));
    for (const k of [0, 4, 11, all.length - 1]) {
      const rest = await crawl(new BbcSource(spec(), context()), all[k]!.cursor);
      assert.deepEqual(rest.map((i) => i.record.id), all.slice(k + 1).map((i) => i.record.id));
    }
  });

  it('gets the index through a 5xx burst', async () => {
    fx.faults.next5xx = 3;
    assert.equal((await crawl(new BbcSource(spec(), context()))).length, fx.rows.length);
  });

  it('downloads real WAVs from the media host; truncated/stalled transfers are retried', async () => {
    const source = new BbcSource(spec(), context());
    const records = (await crawl(source)).map((i) => i.record);
    const wav = await readFile(fx.assets.files['sfx.wav']!.path);
    fx.faults.wavs.set(`${records[5]!.id}.wav`, { truncateAt: 10_000, times: 2 });
    fx.faults.wavs.set(`${records[6]!.id}.wav`, { stallMs: 2000, times: 1 });
    const before = fx.stats.wavs;
    for (const record of [records[0]!, records[5]!, records[6]!]) {
      const audio = await source.materialise(record, work, { maxBytes: 1e7 });
      assert.deepEqual(await readFile(audio.path), wav);
      assert.match(audio.path, /\.wav$/);
      await audio.release();
    }
    assert.equal(fx.stats.wavs - before, 1 + 3 + 2, 'two cut-short and one stalled transfer were retried');
    assert.equal(fx.faults.wavs.size, 0);
  });

  it('excludes noai WAVs, refuses foreign redirects and cuts off oversized WAVs, counting each', async () => {
    const source = new BbcSource(spec(), context());
    const records = (await crawl(source)).map((i) => i.record);
    fx.faults.wavs.set(`${records[7]!.id}.wav`, { robots: 'noml' });
    fx.faults.wavs.set(`${records[8]!.id}.wav`, { redirectTo: `${fx.index.origin.replace(String(fx.index.port), '1')}/elsewhere.wav` });
    fx.faults.wavs.set(`${records[9]!.id}.wav`, { omitLength: true });
    await assert.rejects(source.materialise(records[7]!, work, { maxBytes: 1e7 }), OptedOutError);
    await assert.rejects(source.materialise(records[8]!, work, { maxBytes: 1e7 }), HostNotAllowedError);
    await assert.rejects(source.materialise(records[9]!, work, { maxBytes: 50_000 }), TooLargeError);
    await assert.rejects(source.materialise(records[10]!, work, { maxBytes: 50_000 }), (e: unknown) => e instanceof ClipError && e.reason === 'too_large');
    const counters = await readProviderCounters(ctx.connection, ctx.prefix, 'bbc');
    assert.equal(counters.robots_excluded, 1);
    assert.equal(counters.redirects_refused, 1);
    assert.equal(counters.too_large, 2);
    fx.faults.wavs.clear();
  });
});

describe('BBC source (search API)', () => {
  it('pages through {total, results[]} and resumes from a cursor', async () => {
    const s = spec({ mode: 'search', searchPageSize: 4, searchQuery: 'rain' });
    const items = await crawl(new BbcSource(s, context()));
    const listed = fx.rows.filter((r) => r.location !== '');
    assert.deepEqual(items.map((i) => `${i.record.id}.wav`), listed.map((r) => r.location));
    const engine = clipRecordSchema.parse(items[0]!.record);
    assert.deepEqual(engine.text, ['Two-stroke petrol engine driving small elevator, start, run, stop.']);
    assert.ok(engine.tags.includes('Engines') && engine.tags.includes('Petrol') && engine.tags.includes('Diesel & Petrol Engines'));
    assert.equal(engine.audio, `${fx.mediaBase}07076051.wav`);
    assert.deepEqual(fx.stats.searchBodies[0], { criteria: { from: 0, size: 4, query: 'rain' } });
    const rest = await crawl(new BbcSource(s, context()), items[9]!.cursor);
    assert.deepEqual(rest.map((i) => i.record.id), items.slice(10).map((i) => i.record.id));
    // fileSizes.wavFileSize sizes the transcode chunks.
    assert.equal(engine.bytes, 194 * 48000 * 2 + 44);
  });

  it('stops with an error, not a short crawl, where the API stops paging before its total (the offset cap)', async () => {
    const capped = await startBbcFixture({ searchOffsetCap: 8 });
    try {
      const s = bbcSourceSpecSchema.parse({ type: 'bbc', mode: 'search', searchApi: capped.searchApi, mediaBase: capped.mediaBase, searchPageSize: 4, rate: [{ limit: 200, windowMs: 1000 }] });
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const item of new BbcSource(s, context()).crawl()) seen.push(item.record.id);
        })(),
        /bbc: the search API listed nothing at offset 8 of the 23 it reports \(its paging cap\?\); narrow searchQuery\/searchCategories/,
      );
      assert.equal(seen.length, 8, 'the records before the cap were listed');
    } finally {
      await capped.close();
    }
  });
});
