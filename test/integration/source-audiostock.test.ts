/**
 * The Audiostock adapter against the HTML fixture (audiostock.jp's markup as a public scraper reads
 * it): listing pages parsed into records (title without its leading number, creator, length),
 * paging until a page past the last answers 404, resume,
 * X-Robots-Tag on a listing page, and play URLs that redirect to previews on another host — allowed
 * when that host is configured, refused (and counted) when they lead elsewhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readProviderCounters } from '../../infra/http/counters.ts';
import { HostNotAllowedError, OptedOutError, TooLargeError } from '../../infra/http/errors.ts';
import { clipRecordSchema } from '../../schemas/clip.ts';
import { audiostockSourceSpecSchema } from '../../schemas/source-spec.ts';
import { AudiostockSource } from '../../sources/audiostock/audiostock-source.ts';
import { startHttpServer, type RunningServer } from '../../demo/providers/common.ts';
import { startAudiostockFixture, type AudiostockFixture } from '../../demo/providers/audiostock-server.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';
import type { CrawlItem, SourceContext } from '../../sources/source.ts';

const ctx = testQueueContext();
let fx: AudiostockFixture;
let admin: RunningServer;
let adminHits = 0;
let work: string;

const context = (): SourceContext => ({ redis: ctx.connection, prefix: ctx.prefix, http: { retries: 4, backoff: { baseMs: 10, capMs: 50, retryAfterCapMs: 100 } } });
const spec = (extra: Record<string, unknown> = {}) =>
  audiostockSourceSpecSchema.parse({ type: 'audiostock', listUrl: fx.listUrl, mediaHosts: [fx.previews.host], rate: [{ limit: 200, windowMs: 1000 }], ...extra });

async function crawl(cursor?: string, extra: Record<string, unknown> = {}): Promise<CrawlItem[]> {
  const items: CrawlItem[] = [];
  for await (const item of new AudiostockSource(spec(extra), context()).crawl(cursor)) items.push(item);
  return items;
}

let baseline: CrawlItem[];
before(async () => {
  fx = await startAudiostockFixture();
  admin = await startHttpServer((_req, res) => {
    adminHits++;
    res.writeHead(200).end('admin');
  });
  work = await mkdtemp(join(tmpdir(), 'clapset-audiostock-'));
  baseline = await crawl();
});
after(async () => {
  await fx.close();
  await admin.close();
  await rm(work, { recursive: true, force: true });
  await ctx.close();
});

describe('Audiostock source', () => {
  it('parses listing pages into records, page by page, until the last page', () => {
    const valid = baseline.filter((i) => i.record.invalid === undefined).map((i) => i.record.id);
    assert.deepEqual(valid, fx.items.map((i) => String(i.id)));
    // Every page, then the one past the last (404) that ends the crawl.
    assert.equal(fx.stats.pages, Math.ceil(fx.items.length / fx.pageSize) + 1);
    const records = baseline.map((i) => clipRecordSchema.parse(i.record));
    const [door, boots, rain] = records;
    assert.deepEqual(door!.text, ['ドアを閉める音']);
    assert.deepEqual(door!.tags, []);
    assert.equal(door!.audio, `${fx.site.origin}/audio/1000123/play`);
    assert.deepEqual(
      { creator: door!.original.creator, seconds: door!.original.seconds, title: door!.original.title, url: door!.original.url },
      { creator: 'サウンド工房', seconds: 3, title: '1000123 ドアを閉める音', url: `${fx.site.origin}/audio/1000123` },
    );
    assert.equal(door!.license, 'audiostock');
    assert.deepEqual(boots!.text, ['Footsteps & "heavy" boots']);
    assert.equal(boots!.original.creator, 'foley_jp');
    assert.deepEqual(rain!.text, ['雨の音（強め）']);
    assert.equal(rain!.original.seconds, 65);
    const broken = records.find((r) => r.invalid !== undefined)!;
    assert.match(broken.invalid!, /page 2, item 5: no audio id/);
  });

  it('resumes from a cursor without loss or duplicates', async () => {
    for (const k of [0, 4, 5, 9, baseline.length - 1]) {
      const rest = await crawl(baseline[k]!.cursor);
      assert.deepEqual(rest.map((i) => i.record.id), baseline.slice(k + 1).map((i) => i.record.id), `after item ${k}`);
    }
  });

  it('skips (and counts) the items of a listing page that says X-Robots-Tag: noai', async () => {
    fx.faults.pageRobots.set(1, 'noai');
    try {
      const items = await crawl();
      assert.deepEqual(items.map((i) => i.record.id), baseline.slice(fx.pageSize).map((i) => i.record.id));
      assert.equal((await readProviderCounters(ctx.connection, ctx.prefix, 'audiostock')).robots_excluded, fx.pageSize);
    } finally {
      fx.faults.pageRobots.clear();
    }
  });

  it('follows the play redirect to the preview host and downloads a real MP3', async () => {
    const source = new AudiostockSource(spec(), context());
    const audio = await source.materialise(baseline[0]!.record, work, { maxBytes: 1e7 });
    assert.deepEqual(await readFile(audio.path), await readFile(fx.assets.files['preview.mp3']!.path));
    assert.match(audio.path, /\.mp3$/);
    await audio.release();
    await assert.rejects(source.materialise(baseline[1]!.record, work, { maxBytes: 1000 }), TooLargeError);
  });

  it('refuses a play redirect to a host that is not allowed (an admin port), and counts it', async () => {
    const source = new AudiostockSource(spec(), context());
    fx.faults.playRedirects.set(1000124, `${admin.origin}/admin/reset`);
    await assert.rejects(source.materialise(baseline[1]!.record, work, { maxBytes: 1e7 }), (error: unknown) => {
      assert.ok(error instanceof HostNotAllowedError);
      assert.equal(error.reason, 'fetch_error');
      assert.match(error.message, new RegExp(`refused redirect from ${fx.site.origin}/audio/1000124/play to ${admin.origin}/admin/reset`));
      return true;
    });
    assert.equal(adminHits, 0);
    // Without the preview host configured, even the genuine redirect is refused.
    const strict = new AudiostockSource(spec({ mediaHosts: [] }), context());
    await assert.rejects(strict.materialise(baseline[2]!.record, work, { maxBytes: 1e7 }), HostNotAllowedError);
    assert.equal((await readProviderCounters(ctx.connection, ctx.prefix, 'audiostock')).redirects_refused, 2);
    fx.faults.previews.set(1000126, { robots: 'noml' });
    await assert.rejects(source.materialise(baseline[3]!.record, work, { maxBytes: 1e7 }), OptedOutError);
  });
});
