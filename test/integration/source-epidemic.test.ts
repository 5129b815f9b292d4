/**
 * The Epidemic Sound adapter against the site-JSON fixture: tracks keyed by id in a shifting order
 * read deterministically, LAION's captions and tags, paging per category to `meta.totalPages`, resume
 * from a cursor across pages and categories, storms, and real MP3 downloads from the CDN host.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readProviderCounters } from '../../infra/http/counters.ts';
import { HostNotAllowedError, OptedOutError } from '../../infra/http/errors.ts';
import { clipRecordSchema } from '../../schemas/clip.ts';
import { epidemicSourceSpecSchema } from '../../schemas/source-spec.ts';
import { EpidemicSource } from '../../sources/epidemic/epidemic-source.ts';
import { startEpidemicFixture, type EpidemicFixture } from '../../demo/providers/epidemic-server.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';
import type { CrawlItem, SourceContext } from '../../sources/source.ts';

const ctx = testQueueContext();
let fx: EpidemicFixture;
let work: string;
const CATEGORIES = ['Animals', 'Empty', 'Foley', 'Cartoon'];

const context = (): SourceContext => ({ redis: ctx.connection, prefix: ctx.prefix, http: { retries: 6, backoff: { baseMs: 10, capMs: 50, retryAfterCapMs: 100 } } });
const spec = (extra: Record<string, unknown> = {}) =>
  epidemicSourceSpecSchema.parse({ type: 'epidemic', siteBase: fx.siteBase, mediaHosts: [fx.cdn.host], categories: CATEGORIES, rate: [{ limit: 200, windowMs: 1000 }], ...extra });

async function crawl(cursor?: string): Promise<CrawlItem[]> {
  const items: CrawlItem[] = [];
  for await (const item of new EpidemicSource(spec(), context()).crawl(cursor)) items.push(item);
  return items;
}

/** What a deterministic crawl must yield: categories in spec order, pages in order, ids sorted within a page. */
function expectedIds(): string[] {
  const ids: string[] = [];
  for (const category of CATEGORIES) {
    const tracks = fx.categories[category]!;
    for (let p = 0; p * fx.pageSize < tracks.length; p++) {
      const page = tracks.slice(p * fx.pageSize, (p + 1) * fx.pageSize).map((t) => String(t.id));
      ids.push(...page.sort((a, b) => a.length - b.length || (a < b ? -1 : 1)));
    }
  }
  return ids;
}

let baseline: CrawlItem[];
before(async () => {
  fx = await startEpidemicFixture();
  work = await mkdtemp(join(tmpdir(), 'clapset-epidemic-'));
  baseline = await crawl();
});
after(async () => {
  await fx.close();
  await rm(work, { recursive: true, force: true });
  await ctx.close();
});

describe('Epidemic Sound source', () => {
  it('reads every page of every category in a deterministic order, whatever the key order', async () => {
    assert.deepEqual(baseline.map((i) => i.record.id), expectedIds());
    const again = await crawl();
    assert.deepEqual(again.map((i) => i.record.id), baseline.map((i) => i.record.id));
    // A track filed under two categories is listed twice; the shard planner drops the repeat.
    const creak = String(fx.categories.Foley![0]!.id);
    assert.equal(baseline.filter((i) => i.record.id === creak).length, 2);
  });

  it('builds LAION captions and tags', () => {
    const records = baseline.map((i) => clipRecordSchema.parse(i.record));
    const find = (category: string, title: string) => records.find((r) => r.original.category === category && r.original.title === title)!;
    const bark = find('Animals', 'Dog Bark 1');
    assert.deepEqual(bark.text, ['Dog Bark', 'the sounds of dog.']);
    assert.deepEqual(bark.tags, ['Animals', 'dog']);
    assert.equal(bark.audio, `${fx.cdn.origin}/lqmp3/${bark.id}.mp3`);
    assert.equal(bark.license, 'epidemic-sound');
    const horse = find('Animals', 'Horse Gallop 3');
    assert.deepEqual(horse.text, ['Horse Gallop', 'the sounds of horse, gallop, and hooves.']);
    assert.deepEqual(horse.tags, ['Animals', 'horse', 'gallop', 'hooves']);
    const boing = find('Cartoon', 'Boing Spring  22');
    assert.equal(boing.text[0], 'Boing Spring');
    const digits = find('Cartoon', '123');
    assert.deepEqual(digits.text, ['the sounds of spring, bounce, and comedy.']);
    const noStem = records.find((r) => r.invalid !== undefined)!;
    assert.match(noStem.invalid!, /no stems\.full\.lqMp3Url/);
    assert.equal(noStem.original.genres instanceof Array, true);
  });

  it('resumes from a cursor mid-page, at page ends and across categories, without loss or duplicates', async () => {
    for (const k of [0, 2, 3, 9, 10, 17, baseline.length - 2, baseline.length - 1]) {
      const rest = await crawl(baseline[k]!.cursor);
      assert.deepEqual(rest.map((i) => i.record.id), baseline.slice(k + 1).map((i) => i.record.id), `after item ${k}`);
    }
  });

  it('survives 429s (Retry-After: 0) and a 5xx burst with no record lost', async () => {
    fx.faults.next429 = 3;
    fx.faults.next5xx = 2;
    assert.deepEqual((await crawl()).map((i) => i.record.id), baseline.map((i) => i.record.id));
    assert.equal((await readProviderCounters(ctx.connection, ctx.prefix, 'epidemic')).http_429, 3);
  });

  it('downloads real MP3s from the CDN; noai excluded, foreign redirects refused, invalid records failed', async () => {
    const source = new EpidemicSource(spec(), context());
    const records = baseline.map((i) => i.record).filter((r) => r.invalid === undefined);
    const audio = await source.materialise(records[0]!, work, { maxBytes: 1e7 });
    assert.deepEqual(await readFile(audio.path), await readFile(fx.assets.files['lq.mp3']!.path));
    assert.match(audio.path, /\.mp3$/);
    await audio.release();
    fx.faults.files.set(Number(records[1]!.id), { robots: 'noai' });
    await assert.rejects(source.materialise(records[1]!, work, { maxBytes: 1e7 }), OptedOutError);
    fx.faults.files.set(Number(records[2]!.id), { redirectTo: `${fx.site.origin.replace(/:\d+$/, ':1')}/x.mp3` });
    await assert.rejects(source.materialise(records[2]!, work, { maxBytes: 1e7 }), HostNotAllowedError);
    const invalid = baseline.find((i) => i.record.invalid !== undefined)!.record;
    await assert.rejects(source.materialise(invalid, work, { maxBytes: 1e7 }), { reason: 'invalid_record' });
    const counters = await readProviderCounters(ctx.connection, ctx.prefix, 'epidemic');
    assert.equal(counters.robots_excluded, 1);
    assert.equal(counters.redirects_refused, 1);
  });
});
