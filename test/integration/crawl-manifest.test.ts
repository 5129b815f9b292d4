/**
 * manifest.json is updated read-modify-write by every crawl of a dataset, and a recipe's crawls run
 * at once on any workers: each update holds a Redis lock, so no source is dropped by another's write.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordSourceInManifest } from '../../crawl/crawl.ts';
import { readManifest } from '../../dataset/finalise.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';

test('crawls recording their sources in one manifest at the same time all end up listed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clapset-manifest-'));
  const ctx = testQueueContext();
  const store = openStore(dir);
  try {
    const names = Array.from({ length: 8 }, (_, i) => `source${i}`);
    const crawls = names.map((name) => crawlJobSchema.parse({ dataset: { uri: dir }, source: { type: 'local', name, root: dir } }));
    await Promise.all(crawls.map((crawl) => recordSourceInManifest(store, crawl, { redis: ctx.connection, prefix: ctx.prefix })));
    const manifest = await readManifest(store);
    assert.deepEqual(manifest?.sources.map((s) => s.name).sort(), names);
  } finally {
    await store.close();
    await ctx.close();
    await rm(dir, { recursive: true, force: true });
  }
});
