/**
 * CLAP features computed on the worker-thread pool are byte-identical to the in-thread ones, for
 * every path of clipFeatures (repeat-pad, rand_trunc crop, fusion views, the one-window corner), and
 * a failing clip rejects its own request only.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FeaturePool } from '../../workers/embed/feature-pool.ts';
import { clipFeatures, type ClipFeatureOptions } from '../../workers/embed/fusion.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

const pool = new FeaturePool(2);
after(() => pool.close());

function pcm(samples: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: samples }, (_, i) => 0.4 * Math.sin(i * 0.013 * (1 + seed)) + 0.1 * (random.next() - 0.5));
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('pool features equal in-thread features byte for byte (fusion and rand_trunc, short, long, one window)', async () => {
  const clips = [pcm(48_000 * 3, 1), pcm(48_000 * 14, 2), pcm(480_000 + 100, 3), pcm(48_000 * 10, 4)];
  const cases: ClipFeatureOptions[] = [];
  for (const truncation of ['fusion', 'rand_trunc'] as const) for (const seed of ['a', 7]) cases.push({ truncation, filterBank: truncation === 'fusion' ? 'htk' : 'slaney', seed });
  const jobs = clips.flatMap((clip) => cases.map((options) => ({ clip, options })));
  const pooled = await Promise.all(jobs.map(({ clip, options }) => pool.features(clip, options)));
  for (const [i, { clip, options }] of jobs.entries()) {
    const here = clipFeatures(clip, options);
    assert.deepEqual(pooled[i]!.shape, here.shape);
    assert.equal(pooled[i]!.longer, here.longer);
    assert.ok(bytes(pooled[i]!.data).equals(bytes(here.data)), `case ${i} (${options.truncation}, ${clip.length} samples)`);
  }
  // The caller's PCM is untouched (copied to the thread, not transferred away).
  assert.equal(clips[0]!.length, 48_000 * 3);
});

test('a clip that cannot be featurised rejects alone; the pool keeps serving', async () => {
  const [bad, good] = await Promise.allSettled([pool.features(new Float32Array(0), { truncation: 'fusion', filterBank: 'htk', seed: 1 }), pool.features(pcm(48_000, 5), { truncation: 'fusion', filterBank: 'htk', seed: 1 })]);
  assert.equal(bad!.status, 'rejected');
  assert.match(String((bad as PromiseRejectedResult).reason), /empty clip/);
  assert.equal(good!.status, 'fulfilled');
});
