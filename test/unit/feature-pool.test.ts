/**
 * CLAP features computed on the worker-thread pool are byte-identical to the in-thread ones, for
 * every path of clipFeatures (repeat-pad, rand_trunc crop, fusion views, the one-window corner), and
 * a failing clip rejects its own request only; from the TypeScript sources (this test, under tsx)
 * and from compiled JavaScript (the last test).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

test('from the compiled build: threads load feature-thread.js, no tsx in the process, same bytes', async () => {
  // The files the pool needs, transpiled as `npm run build` compiles them (relative .ts imports
  // rewritten to .js), into a scratch tree laid out like dist/; then a plain `node` runs the pool.
  const ts = (await import('typescript')).default;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = await mkdtemp(join(tmpdir(), 'clapset-pool-dist-'));
  try {
    const pending = ['workers/embed/feature-pool.ts', 'workers/embed/feature-thread.ts'];
    const done = new Set<string>();
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (done.has(file)) continue;
      done.add(file);
      const source = await readFile(join(root, file), 'utf8');
      for (const [, spec] of source.matchAll(/from '(\.[^']+\.ts)'/g)) pending.push(join(dirname(file), spec!));
      const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, rewriteRelativeImportExtensions: true, verbatimModuleSyntax: true }, fileName: file });
      await mkdir(join(out, dirname(file)), { recursive: true });
      await writeFile(join(out, file.replace(/\.ts$/, '.js')), outputText);
    }
    await writeFile(join(out, 'package.json'), '{"type":"module"}');
    const script = `
      import { FeaturePool } from './workers/embed/feature-pool.js';
      const pool = new FeaturePool(1);
      const pcm = Float32Array.from({ length: 48000 * 12 }, (_, i) => Math.sin(i * 0.01));
      const f = await pool.features(pcm, { truncation: 'fusion', filterBank: 'htk', seed: 'dist' });
      await pool.close();
      process.stdout.write(JSON.stringify({ shape: f.shape, longer: f.longer, bytes: Buffer.from(f.data.buffer).toString('base64'), tsx: process.execArgv.join(' ') + (process.env.NODE_OPTIONS ?? '') }));
    `;
    await writeFile(join(out, 'run.js'), script);
    const run = spawnSync(process.execPath, ['run.js'], { cwd: out, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 64 << 20 });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { shape: number[]; longer: boolean; bytes: string; tsx: string };
    assert.doesNotMatch(result.tsx, /tsx/);
    const here = clipFeatures(Float32Array.from({ length: 48000 * 12 }, (_, i) => Math.sin(i * 0.01)), { truncation: 'fusion', filterBank: 'htk', seed: 'dist' });
    assert.deepEqual(result.shape, here.shape);
    assert.equal(result.longer, here.longer);
    assert.ok(Buffer.from(result.bytes, 'base64').equals(bytes(here.data)));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
