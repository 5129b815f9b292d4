/**
 * CLAP text embeddings must not depend on the captions batched beside them. The published text
 * graphs (transformers.js layout) declare `input_ids` only, so a padded batch would be read as text;
 * the forged graph here has that exact signature and a pooling that padding changes. Real ONNX
 * Runtime sessions, a real crawl on Redis, the real CLI.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { runCrawl } from '../../crawl/run-crawl.ts';
import { decodeNpy } from '../../infra/npy.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { embeddingKeys } from '../../workers/embed/layout.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { readSamples, testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

/** Captions of many token lengths (1 word … past the 77-token cap), some sharing a length. */
const CAPTIONS = [
  'x', 'dog', 'rain', 'a dog', 'a cat', 'the wind', 'a dog barks', 'a cat meows', 'birds singing at night',
  'rain is falling on a metal roof', 'thunder rumbles while the wind blows', 'a car engine starts and a horn honks loudly',
  'people are talking and laughing in a crowded room while glasses clink', 'qzx vvk jjw',
  'a piano and a guitar are playing music softly in a quiet room with a clock ticking',
  `${'zq '.repeat(50)}end`, // over 77 tokens: truncated, keeping </s>
];

let root: string;
let publishedDir: string;
let maskedDir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-text-batching-'));
  publishedDir = join(root, 'clap-published');
  maskedDir = join(root, 'clap-masked');
  await forgeTinyClap(publishedDir, { seed: 11 });
  await forgeTinyClap(maskedDir, { seed: 11, textMask: true });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => ((dot += x * b[i]!), (na += x * x), (nb += b[i]! * b[i]!)));
  return dot / Math.sqrt(na * nb);
}

describe('the forged text graph has the published signature', () => {
  test('text_model.onnx: input_ids only, axes batch_size/sequence_length; audio_model.onnx: optimum CLAP axis names', async () => {
    const text = await ort.InferenceSession.create(join(publishedDir, 'onnx', 'text_model.onnx'));
    const audio = await ort.InferenceSession.create(join(publishedDir, 'onnx', 'audio_model.onnx'));
    try {
      assert.deepEqual(text.inputNames, ['input_ids']);
      assert.deepEqual(text.outputNames, ['text_embeds']);
      const ids = text.inputMetadata[0]!;
      assert.ok(ids.isTensor);
      assert.deepEqual([ids.type, ids.shape], ['int64', ['batch_size', 'sequence_length']]);
      const embeds = text.outputMetadata[0]!;
      assert.ok(embeds.isTensor);
      assert.deepEqual([embeds.type, embeds.shape], ['float32', ['batch_size', 512]]);
      assert.deepEqual(audio.inputNames, ['input_features']);
      const features = audio.inputMetadata[0]!;
      assert.ok(features.isTensor);
      assert.deepEqual(features.shape, ['audio_batch_size', 'num_channels', 'height', 'width']);
    } finally {
      await Promise.all([text.release(), audio.release()]);
    }
  });

  test('padding reaches such a graph as text: a padded batch changes a short caption (the trap being avoided)', async () => {
    const embedder = await ClapEmbedder.load(publishedDir, { threads: 1 });
    const session = await ort.InferenceSession.create(join(publishedDir, 'onnx', 'text_model.onnx'));
    try {
      const short = embedder.encode('a dog');
      const long = embedder.encode('people are talking and laughing in a crowded room');
      const run = async (rows: number[][]): Promise<Float32Array> => {
        const length = Math.max(...rows.map((r) => r.length));
        const ids = BigInt64Array.from(rows.flatMap((r) => [...r, ...Array<number>(length - r.length).fill(1)]).map(BigInt)); // <pad> = 1
        const result = await session.run({ input_ids: new ort.Tensor('int64', ids, [rows.length, length]) });
        return (result.text_embeds!.data as Float32Array).slice(0, 512);
      };
      const alone = await run([short]);
      const padded = await run([short, long]);
      const similarity = cosine(alone, padded);
      assert.ok(similarity < 0.99, `padding must change the forged embedding (cosine ${similarity.toFixed(4)})`);
    } finally {
      await Promise.all([embedder.close(), session.release()]);
    }
  });
});

describe('ClapEmbedder.embedText is independent of batching', () => {
  for (const variant of ['published (input_ids only)', 'with attention_mask'] as const) {
    test(`${variant}: every caption batched (batch 64 and 3, shuffled) equals it alone to 1e-5`, async () => {
      const dir = variant === 'with attention_mask' ? maskedDir : publishedDir;
      const lengths = new Set<number>();
      const alone: Float32Array[] = [];
      const single = await ClapEmbedder.load(dir, { threads: 1 });
      try {
        for (const caption of CAPTIONS) {
          lengths.add(single.encode(caption).length);
          alone.push((await single.embedText([caption]))[0]!);
        }
      } finally {
        await single.close();
      }
      assert.ok(lengths.size >= 10, `captions of many token lengths (${[...lengths].join(', ')})`);
      const order = CAPTIONS.map((_, i) => (i * 7) % CAPTIONS.length); // a fixed shuffle (7 is coprime with 16)
      for (const textBatchSize of [64, 3]) {
        const embedder = await ClapEmbedder.load(dir, { threads: 1, textBatchSize });
        try {
          const batched = await embedder.embedText(order.map((i) => CAPTIONS[i]!));
          let worst = 0;
          order.forEach((captionIndex, row) => (worst = Math.max(worst, maxDiff(batched[row]!, alone[captionIndex]!))));
          assert.ok(worst < 1e-5, `batch ${textBatchSize}: max |batched − alone| = ${worst}`);
        } finally {
          await embedder.close();
        }
      }
      assert.ok(maxDiff(alone[6]!, alone[7]!) > 0.01, 'captions of equal length still differ');
    });
  }
});

describe('through the embed stage and clapset search', () => {
  const ctx = testQueueContext();
  let dataset: string;

  before(async () => {
    process.env.CLAPSET_REDIS_URL = TEST_REDIS_URL;
    const sounds = join(root, 'sounds');
    await mkdir(sounds, { recursive: true });
    // The local source captions a clip with its file name, underscores as spaces.
    for (const [i, caption] of CAPTIONS.entries()) {
      await makeTone(join(sounds, `${caption.trim().replaceAll(' ', '_')}.wav`), { seconds: 1 + (i % 3) * 0.5, sampleRate: 48_000, channels: 1, format: 'wav' });
    }
    dataset = join(root, 'dataset');
    const crawl = crawlJobSchema.parse({
      dataset: { uri: dataset, shardSize: 64, chunkSize: 16, testFraction: 0, caption: null, embed: { model: publishedDir } },
      source: { type: 'local', name: 'lengths', root: sounds },
    });
    await runCrawl(configFromEnv(), ctx, crawl, { resume: false, localWorkers: 1, workerConcurrency: 1, quiet: true, workerLogFile: join(root, 'workers.log') });
  });

  after(async () => {
    await ctx.close();
  });

  test('stored text embeddings (captions embedded a chunk at a time) equal each caption embedded alone, and search scores agree', async () => {
    const store = openStore(dataset);
    const samples = await readSamples(store);
    assert.equal(samples.length, CAPTIONS.length);
    const embedder = await ClapEmbedder.load(publishedDir, { threads: 1 });
    const byKey = new Map<string, { caption: string; text: Float32Array; audio: Float32Array }>();
    try {
      const tars = [...new Set(samples.map((s) => s.tar))];
      for (const tar of tars) {
        const [split, file] = tar.split('/') as [string, string];
        const paths = embeddingKeys(split, file.replace(/\.tar$/, ''));
        const text = decodeNpy(await store.getBuffer(paths.text)).data;
        const audio = decodeNpy(await store.getBuffer(paths.audio)).data;
        const keys = samples.filter((s) => s.tar === tar).map((s) => s.key);
        for (const [row, key] of keys.entries()) {
          const caption = (samples.find((s) => s.key === key)!.json as { text: string[] }).text[0]!;
          byKey.set(key, { caption, text: text.slice(row * 512, (row + 1) * 512), audio: audio.slice(row * 512, (row + 1) * 512) });
        }
      }
      let worst = 0;
      for (const { caption, text } of byKey.values()) worst = Math.max(worst, maxDiff(text, (await embedder.embedText([caption]))[0]!));
      assert.ok(worst < 1e-5, `stored vs alone: max difference ${worst}`);
    } finally {
      await embedder.close();
    }

    // clapset search embeds the query alone; its scores are the stored text row · each audio row.
    for (const caption of [CAPTIONS[1]!, CAPTIONS[11]!]) {
      const result = await runCli(['search', caption, '--dataset', dataset, '--k', String(CAPTIONS.length), '--json'], process.env);
      assert.equal(result.code, 0, result.stderr);
      const hits = lastJsonLine<{ key: string; score: number }[]>(result.stdout);
      assert.equal(hits.length, CAPTIONS.length);
      const stored = [...byKey.values()].find((v) => v.caption === caption)!.text;
      for (const hit of hits) {
        const expected = byKey.get(hit.key)!.audio.reduce((sum, x, i) => sum + x * stored[i]!, 0);
        assert.ok(Math.abs(hit.score - expected) < 1e-5, `${caption} → ${hit.key}: CLI ${hit.score}, stored ${expected}`);
      }
    }
  });
});
