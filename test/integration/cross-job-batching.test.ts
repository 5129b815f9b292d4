/**
 * Several chunk jobs in flight share one model session (workers/batching/batcher.ts): runs are
 * assembled from more than one job, yet every job gets exactly what it would alone (batch size 1),
 * the no-padding rule of mask-less CLAP text graphs holds across jobs, and one job's bad input fails
 * that job only. Real ONNX Runtime sessions on the forged CLAP and T5 models; the evidence of
 * merging is the batchers' own counters.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';
import { createCaptioner } from '../../workers/caption/captioner.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { clipFeatures, type ClipFeatures } from '../../workers/embed/fusion.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

let root: string;
let clapDir: string;
let fusedDir: string;
let maskedDir: string;
let t5Dir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-cross-job-'));
  [clapDir, fusedDir, maskedDir, t5Dir] = await Promise.all([
    forgeTinyClap(join(root, 'clap'), { seed: 3 }).then((m) => m.dir),
    forgeTinyClap(join(root, 'clap-fused'), { seed: 4, fused: true }).then((m) => m.dir),
    forgeTinyClap(join(root, 'clap-masked'), { seed: 6, textMask: true }).then((m) => m.dir),
    forgeTinyT5(join(root, 't5'), { seed: 5 }).then((m) => m.dir),
  ]);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function pcm(seconds: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: Math.round(seconds * 48_000) }, (_, i) => 0.3 * Math.sin((i * (200 + 50 * seed)) / 48_000) + 0.05 * (random.next() - 0.5));
}

function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((row, r) => row.reduce((m, x, i) => Math.max(m, Math.abs(x - b[r]![i]!)), 0)));
}

/** Three jobs: clips and captions, with captions of one token length spread over jobs. */
const JOBS = [
  { delayMs: 0, seconds: [3, 12], captions: ['a dog barks', 'rain'] },
  { delayMs: 5, seconds: [4], captions: ['a cat meows'] },
  { delayMs: 10, seconds: [11, 2, 5], captions: ['rain', 'thunder rumbles while the wind blows', 'a car engine starts'] },
];

for (const variant of ['unfused', 'fused', 'text graph with attention_mask'] as const) {
  const fused = variant === 'fused';
  const masked = variant === 'text graph with attention_mask';
  describe(`CLAP ${variant}: audio and text runs across jobs`, () => {
    let shared: ClapEmbedder;
    let alone: ClapEmbedder;
    before(async () => {
      const dir = fused ? fusedDir : masked ? maskedDir : clapDir;
      shared = await ClapEmbedder.load(dir, { audioBatchSize: 8, textBatchSize: 64, lingerMs: 200 });
      alone = await ClapEmbedder.load(dir, { audioBatchSize: 1, textBatchSize: 1 });
    });
    after(async () => {
      await Promise.all([shared.close(), alone.close()]);
    });

    test('runs hold items of several jobs, and each job gets its batch-size-1 embeddings (1e-5)', async () => {
      const features = JOBS.map((job, j) => job.seconds.map((s, c) => clipFeatures(pcm(s, j * 10 + c), shared.featureOptions(`${j}-${c}`))));
      const claps = JOBS.map(() => shared.beginJob()); // three chunk jobs start
      const results = await Promise.all(
        JOBS.map(async (job, j) => {
          const clap = claps[j]!;
          try {
            await sleep(job.delayMs); // the others are "downloading" meanwhile
            const audio = await clap.embedAudio(features[j]!);
            const text = await clap.embedText(job.captions);
            return { audio, text };
          } finally {
            clap.done();
          }
        }),
      );
      const stats = shared.batchStats();
      assert.ok(stats.audio.mergedRuns >= 1 && stats.audio.maxRequestsPerRun === 3, `audio runs merged jobs: ${JSON.stringify(stats.audio)}`);
      assert.equal(stats.audio.runs, 1, 'six clips of three jobs: one audio run');
      // Mask-less graph: one text run per token length (no padding reaches it), each taking that
      // length's captions from every job ('rain' is in two jobs). With a mask: one padded, masked run.
      const lengths = new Set(JOBS.flatMap((job) => job.captions.map((caption) => shared.encode(caption).length)));
      assert.equal(stats.text.runs, masked ? 1 : lengths.size, `text runs: ${JSON.stringify(stats.text)}`);
      assert.ok(stats.text.mergedRuns >= 1, `text runs merged jobs: ${JSON.stringify(stats.text)}`);
      for (const [j, job] of JOBS.entries()) {
        const audio = await alone.embedAudio(features[j]!);
        const text = await alone.embedText(job.captions);
        assert.ok(maxDiff(results[j]!.audio, audio) < 1e-5, `job ${j} audio`);
        assert.ok(maxDiff(results[j]!.text, text) < 1e-5, `job ${j} text`);
      }
    });

    test('a job whose input breaks a shared run fails alone; the others get their embeddings', async () => {
      const good = clipFeatures(pcm(3, 1), shared.featureOptions('good'));
      const corrupt: ClipFeatures = { ...good, data: good.data.subarray(0, 1000) }; // right shape label, cut buffer
      const before = shared.batchStats();
      const inputs = [[good], [corrupt, good], [good]];
      const claps = inputs.map(() => shared.beginJob());
      const jobs = inputs.map(async (clips, j) => {
        const clap = claps[j]!;
        try {
          return await clap.embedAudio(clips);
        } finally {
          clap.done();
        }
      });
      const [a, b, c] = await Promise.allSettled(jobs);
      assert.equal(b!.status, 'rejected');
      assert.match(String((b as PromiseRejectedResult).reason), /audio features of 1000 values/);
      assert.equal(a!.status, 'fulfilled');
      assert.equal(c!.status, 'fulfilled');
      const expected = await alone.embedAudio([good]);
      assert.ok(maxDiff((a as PromiseFulfilledResult<Float32Array[]>).value, expected) < 1e-5);
      assert.ok(maxDiff((c as PromiseFulfilledResult<Float32Array[]>).value, expected) < 1e-5);
      const stats = shared.batchStats();
      assert.equal(stats.audio.splitRetries - before.audio.splitRetries, 1, 'the merged run failed once and was split');

      // Text: a token id past the vocabulary makes ONNX Runtime's own Gather fail inside the shared run.
      const ids = [shared.encode('a dog barks'), shared.encode('a cat meows')];
      const bad = [...ids[0]!];
      bad[1] = 10_000_000;
      const rows = [ids[0]!, bad, ids[1]!];
      const textClaps = rows.map(() => shared.beginJob());
      const texts = await Promise.allSettled(rows.map(async (row, j) => {
        const clap = textClaps[j]!;
        try {
          return await clap.embedTokens([row]);
        } finally {
          clap.done();
        }
      }));
      assert.deepEqual(texts.map((t) => t.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.equal(shared.batchStats().text.splitRetries - before.text.splitRetries, 1, 'one merged text run failed in ONNX Runtime and was split');
      const expectedText = await alone.embedTokens(ids);
      assert.ok(maxDiff([(texts[0] as PromiseFulfilledResult<Float32Array[]>).value[0]!, (texts[2] as PromiseFulfilledResult<Float32Array[]>).value[0]!], expectedText) < 1e-5);
    });
  });
}

describe('T5 captions across jobs', () => {
  test('one encoder + beam-search run serves several jobs; captions equal batch-size-1 ones', async () => {
    const shared = await createCaptioner({ model: t5Dir, batchSize: 8, lingerMs: 200, env: {} });
    const alone = await createCaptioner({ model: t5Dir, batchSize: 1, env: {} });
    try {
      const jobs = [[['dog', 'bark'], ['rain', 'roof', 'night']], [['car', 'engine']], [['bird', 'singing'], ['door']]];
      const captions = await Promise.all(
        jobs.map(async (lists, j) => {
          const leave = shared.enter!();
          try {
            await sleep(j * 5);
            return await shared.caption(lists);
          } finally {
            leave();
          }
        }),
      );
      const stats = shared.batchStats!();
      assert.equal(stats.runs, 1, `five keyword lists of three jobs in one run: ${JSON.stringify(stats)}`);
      assert.equal(stats.maxRequestsPerRun, 3);
      for (const [j, lists] of jobs.entries()) assert.deepEqual(captions[j], await alone.caption(lists));
    } finally {
      await Promise.all([shared.close(), alone.close()]);
    }
  });
});
