import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { npyRowStream } from '../../infra/npy.ts';
import { encodeMetadataParquet } from '../../infra/parquet.ts';
import { LocalStore } from '../../infra/store/local-store.ts';
import { S3Store } from '../../infra/store/s3-store.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { embeddingOfKey, searchEmbeddings, searchLike } from '../../search/search.ts';
import { embeddingKeys } from '../../workers/embed/layout.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';
import { l2NormalizeRows } from '../../workers/embed/vectors.ts';

/** Exact cosine top-k through a real LocalStore (and s3rver): several .npy shards per split, metadata tables beside them. */

const DIM = 512;
let root: string;
let store: LocalStore;
const all: { key: string; vector: Float32Array; shard: string; row: number }[] = [];
let planted: { key: string; vector: Float32Array };
let query: Float32Array;

function gaussianVector(random: SeededRandom): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next()));
  return l2NormalizeRows(v, DIM);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-search-'));
  store = new LocalStore(root);
  const random = new SeededRandom(2024);
  query = gaussianVector(random);
  // The planted near-duplicate: the query plus a little noise, in the middle of a middle shard.
  const noise = gaussianVector(random);
  const near = l2NormalizeRows(Float32Array.from(query, (q, i) => q + 0.15 * noise[i]!), DIM);
  const layout: [split: string, shard: string, rows: number][] = [
    ['train', 'demo-000000', 97],
    ['train', 'demo-000001', 120],
    ['train', 'demo-000002', 64],
    ['test', 'demo-000000', 33],
  ];
  for (const [split, shard, rows] of layout) {
    const vectors = Array.from({ length: rows }, () => gaussianVector(random));
    if (split === 'train' && shard === 'demo-000001') vectors[57] = near;
    const keys = vectors.map((_, row) => `demo-${split}-${shard.slice(-1)}-${row}`);
    vectors.forEach((vector, row) => all.push({ key: keys[row]!, vector, shard: `${split}/${shard}`, row }));
    const paths = embeddingKeys(split, shard);
    await store.put(paths.audio, npyRowStream(vectors, [rows, DIM]));
    await store.put(paths.text, npyRowStream(vectors.map((v) => Float32Array.from(v, (x) => -x)), [rows, DIM]));
    await store.put(paths.metadata, encodeMetadataParquet(keys.map((key) => ({ key, caption: `caption of ${key}`, source: 'demo', duration: 1 }))));
  }
  planted = { key: 'demo-train-1-57', vector: near };
  await store.put('train/demo-000000.tar', 'not an embedding: ignored by the listing');
});

after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function bruteForce(q: Float32Array, k: number, filter: (e: (typeof all)[number]) => boolean = () => true) {
  return all
    .filter(filter)
    .map((e) => ({ key: e.key, score: e.vector.reduce((s, x, i) => s + x * q[i]!, 0), shard: e.shard, row: e.row }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

describe('searchEmbeddings', () => {
  test('the planted near-duplicate comes first among 314 rows in 4 shards', async () => {
    const hits = await searchEmbeddings(store, query, { k: 5 });
    assert.equal(hits.length, 5);
    assert.deepEqual({ key: hits[0]!.key, shard: hits[0]!.shard, row: hits[0]!.row }, { key: planted.key, shard: 'train/demo-000001', row: 57 });
    assert.ok(hits[0]!.score > 0.9, `score ${hits[0]!.score}`);
    assert.ok(hits[1]!.score < 0.3, 'the rest are unrelated random vectors');
  });

  test('agrees with brute force, scores and order, for any k and block size', async () => {
    for (const [k, rowsPerBlock, concurrency] of [[1, 256, 4], [10, 7, 1], [40, 1, 3]] as const) {
      const hits = await searchEmbeddings(store, query, { k, rowsPerBlock, concurrency });
      const expected = bruteForce(query, k);
      assert.deepEqual(hits.map((h) => h.key), expected.map((e) => e.key), `k=${k}`);
      hits.forEach((h, i) => assert.ok(Math.abs(h.score - expected[i]!.score) < 1e-5));
    }
  });

  test('an unnormalised query gives the same ranking (cosine)', async () => {
    const scaled = Float32Array.from(query, (x) => x * 7.5);
    assert.deepEqual((await searchEmbeddings(store, scaled, { k: 3 })).map((h) => h.key), (await searchEmbeddings(store, query, { k: 3 })).map((h) => h.key));
  });

  test('split and kind select the matrices', async () => {
    const testHits = await searchEmbeddings(store, query, { k: 3, split: 'test' });
    assert.ok(testHits.every((h) => h.shard === 'test/demo-000000'));
    assert.deepEqual(testHits.map((h) => h.key), bruteForce(query, 3, (e) => e.shard.startsWith('test/')).map((e) => e.key));
    // text matrices hold the negated vectors: the planted row is now the farthest.
    const textHits = await searchEmbeddings(store, Float32Array.from(query, (x) => -x), { k: 1, kind: 'text' });
    assert.equal(textHits[0]!.key, planted.key);
  });

  test('the same answers from S3 (ranged reads against s3rver)', async (t) => {
    const server = await startS3Server();
    const saved = { ...process.env };
    Object.assign(process.env, server.env); // credentials reach the SDK only through the environment
    const s3 = new S3Store(`s3://${server.bucket}/datasets/search`, { s3: configFromEnv(server.env).s3 });
    t.after(async () => {
      await s3.close();
      await server.stop();
      process.env = saved;
    });
    for await (const object of store.list('')) await s3.put(object.key, await store.getBuffer(object.key));
    const hits = await searchEmbeddings(s3, query, { k: 12, rowsPerBlock: 50 });
    assert.deepEqual(hits, await searchEmbeddings(store, query, { k: 12 }));
    assert.deepEqual(hits.map((h) => h.key), bruteForce(query, 12).map((e) => e.key));
    assert.deepEqual((await embeddingOfKey(s3, planted.key)).embedding, planted.vector);
  });

  test('a truncated matrix is an error naming it, not a silently shorter search', async (t) => {
    const paths = embeddingKeys('test', 'demo-000000');
    const bytes = await store.getBuffer(paths.audio);
    t.after(() => store.put(paths.audio, bytes));
    await store.put(paths.audio, bytes.subarray(0, bytes.length - DIM * 4 - 3));
    await assert.rejects(searchEmbeddings(store, query, { k: 3 }), /embeddings\/test\/demo-000000\.audio\.npy is truncated/);
  });

  test('a zero query, or one of the wrong size, is an error', async () => {
    await assert.rejects(searchEmbeddings(store, new Float32Array(DIM)), /zero/);
    await assert.rejects(searchEmbeddings(store, new Float32Array(8).fill(1)), /query has 8/);
    await assert.rejects(searchEmbeddings(store, query, { concurrency: 0 }), /concurrency must be a positive integer, got 0/);
    await assert.rejects(searchEmbeddings(store, query, { k: 0 }), /k must be a positive integer/);
  });
});

describe('--like <key>', () => {
  test('the stored embedding of a key, and its neighbours without itself', async () => {
    const found = await embeddingOfKey(store, planted.key);
    assert.deepEqual(found.embedding, planted.vector);
    assert.deepEqual([found.shard, found.row], ['train/demo-000001', 57]);
    const hits = await searchLike(store, planted.key, { k: 4 });
    assert.equal(hits.length, 4);
    assert.ok(!hits.some((h) => h.key === planted.key));
    assert.deepEqual(hits.map((h) => h.key), bruteForce(planted.vector, 5).filter((e) => e.key !== planted.key).slice(0, 4).map((e) => e.key));
  });

  test('an unknown key is reported', async () => {
    await assert.rejects(embeddingOfKey(store, 'demo-nope'), /no audio embedding for key "demo-nope"/);
  });
});
