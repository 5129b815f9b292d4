/**
 * `--clap-dtype`: the forged CLAP folder carries fp16 and q8 exports named and built as
 * transformers.js publishes them (`*_fp16.onnx` with float32 inputs/outputs, `*_quantized.onnx` with
 * dynamically quantized MatMuls); the embedder loads the one asked for, a crawl records and uses it,
 * search embeds queries with it, and a dtype the folder lacks stops the crawl before it starts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { GraphBuilder, encodeModel } from '../../infra/models/onnx-builder.ts';
import { decodeNpy } from '../../infra/npy.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const CAPTIONS = ['a dog barks', 'rain is falling on a metal roof', 'x', 'people are talking and laughing in a crowded room'];
const ctx = testQueueContext();
let root: string;
let clapDir: string;

function cosine(a: Float32Array, b: Float32Array): number {
  return a.reduce((sum, x, i) => sum + x * b[i]!, 0); // unit vectors
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-dtypes-'));
  clapDir = join(root, 'clap');
  await forgeTinyClap(clapDir, { seed: 9, variants: ['fp16', 'q8'] });
});

after(async () => {
  await ctx.close();
  await rm(root, { recursive: true, force: true });
});

describe('forged fp16 and q8 exports', () => {
  it('keep float32 inputs and outputs, compute in float16 / int8, and give embeddings close to fp32 but not equal', async () => {
    const fp16Graph = await ort.InferenceSession.create(join(clapDir, 'onnx', 'text_model_fp16.onnx'));
    const q8Graph = await ort.InferenceSession.create(join(clapDir, 'onnx', 'audio_model_quantized.onnx'));
    try {
      for (const session of [fp16Graph, q8Graph]) for (const meta of [...session.inputMetadata, ...session.outputMetadata]) if (meta.isTensor && meta.name !== 'input_ids') assert.equal(meta.type, 'float32', meta.name);
    } finally {
      await Promise.all([fp16Graph.release(), q8Graph.release()]);
    }
    const fp16Bytes = await readFile(join(clapDir, 'onnx', 'text_model_fp16.onnx'));
    const fp32Bytes = await readFile(join(clapDir, 'onnx', 'text_model.onnx'));
    assert.ok(fp16Bytes.length < fp32Bytes.length * 0.8, `half-size projection weights (${fp16Bytes.length} vs ${fp32Bytes.length} bytes)`);

    const [fp32, fp16, q8] = await Promise.all((['fp32', 'fp16', 'q8'] as const).map((dtype) => ClapEmbedder.load(clapDir, { dtype, threads: 1 })));
    try {
      const base = await fp32!.embedText(CAPTIONS);
      const clip = fp32!.features(Float32Array.from({ length: 96_000 }, (_, i) => 0.3 * Math.sin(i / 7)), 'k');
      const baseAudio = (await fp32!.embedAudio([clip]))[0]!;
      for (const [dtype, embedder, floor] of [['fp16', fp16!, 0.9999], ['q8', q8!, 0.99]] as const) {
        const text = await embedder.embedText(CAPTIONS);
        const audio = (await embedder.embedAudio([clip]))[0]!;
        const similarities = [...text.map((v, i) => cosine(v, base[i]!)), cosine(audio, baseAudio)];
        assert.ok(similarities.every((c) => c > floor), `${dtype}: cosines to fp32 ${similarities.map((c) => c.toFixed(6)).join(', ')}`);
        const moved = Math.max(...text.map((v, i) => v.reduce((m, x, j) => Math.max(m, Math.abs(x - base[i]![j]!)), 0)));
        assert.ok(moved > 1e-6, `${dtype}: a different graph ran (max |Δ| to fp32 ${moved})`);
      }
    } finally {
      await Promise.all([fp32, fp16, q8].map((e) => e!.close()));
    }
  });

  it('an export with float16 inputs or outputs is refused at load, naming the tensor', async () => {
    const dir = join(root, 'fp16-io');
    await forgeTinyClap(dir, { seed: 9 });
    const g = new GraphBuilder('clap_audio_model');
    g.input('input_features', 'float16', ['audio_batch_size', 'num_channels', 'height', 'width']);
    g.output('audio_embeds', 'float16', ['audio_batch_size', 'num_channels', 'height', 'width'], g.op('Identity', ['input_features']));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'onnx', 'audio_model_fp16.onnx'), encodeModel(g));
    await writeFile(join(dir, 'onnx', 'text_model_fp16.onnx'), await readFile(join(dir, 'onnx', 'text_model.onnx')));
    await assert.rejects(ClapEmbedder.load(dir, { dtype: 'fp16' }), /audio_model_fp16\.onnx: input_features is float16; clapset feeds and reads float32/);
  });
});

describe('crawl --clap-dtype', () => {
  let env: NodeJS.ProcessEnv;
  let sounds: string;

  before(async () => {
    sounds = join(root, 'sounds');
    await mkdir(sounds, { recursive: true });
    for (const [i, caption] of CAPTIONS.entries()) await makeTone(join(sounds, `${caption.replaceAll(' ', '_')}.wav`), { seconds: 1 + i * 0.5, sampleRate: 48_000, channels: 1, format: 'wav' });
    env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_CLAP_MODEL: '', CLAPSET_CAPTION_MODEL: '' };
  });

  it('q8: the manifest records it, the stored text rows are the q8 embeddings, and search embeds queries with q8', async () => {
    const dataset = join(root, 'q8');
    const crawl = await runCli(['crawl', 'local', '--root', sounds, '--dataset', dataset, '--no-caption', '--clap-model', clapDir, '--clap-dtype', 'q8', '--workers', '1', '--json'], env);
    assert.equal(crawl.code, 0, crawl.stderr);
    const manifest = JSON.parse(await readFile(join(dataset, 'manifest.json'), 'utf8')) as { dataset: { embed: { model: string; dtype: string } } };
    assert.deepEqual(manifest.dataset.embed, { model: clapDir, dtype: 'q8' });
    const q8 = await ClapEmbedder.load(clapDir, { dtype: 'q8', threads: 1 });
    const fp32 = await ClapEmbedder.load(clapDir, { threads: 1 });
    try {
      const stored = decodeNpy(await readFile(join(dataset, 'embeddings', 'train', 'local-000000.text.npy'))).data;
      const audio = decodeNpy(await readFile(join(dataset, 'embeddings', 'train', 'local-000000.audio.npy'))).data;
      const rows = stored.length / 512;
      assert.equal(rows, CAPTIONS.length);
      const q8Texts = await q8.embedText(CAPTIONS);
      const fp32Texts = await fp32.embedText(CAPTIONS);
      for (let r = 0; r < rows; r++) {
        const row = stored.subarray(r * 512, (r + 1) * 512);
        const match = q8Texts.findIndex((v) => v.every((x, i) => Math.abs(x - row[i]!) < 1e-5));
        assert.ok(match >= 0, `row ${r} is a q8 text embedding`);
        assert.ok(!fp32Texts.some((v) => v.every((x, i) => Math.abs(x - row[i]!) < 1e-5)), `row ${r} is not the fp32 one`);
      }
      const query = (await q8.embedText(['rain is falling on a metal roof']))[0]!;
      const result = await runCli(['search', 'rain is falling on a metal roof', '--dataset', dataset, '--k', '1', '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      const [hit] = lastJsonLine<{ score: number; row: number }[]>(result.stdout);
      const expected = audio.subarray(hit!.row * 512, (hit!.row + 1) * 512).reduce((sum, x, i) => sum + x * query[i]!, 0);
      assert.ok(Math.abs(hit!.score - expected) < 1e-5, `search scored with the q8 query (${hit!.score} vs ${expected})`);
    } finally {
      await Promise.all([q8.close(), fp32.close()]);
    }
  });

  it('a dtype the CLAP or caption folder lacks, or no such dtype: refused before anything is enqueued', async () => {
    const prefix = `${ctx.prefix}-refused`;
    env = { ...env, CLAPSET_PREFIX: prefix };
    const missing = await runCli(['crawl', 'local', '--root', sounds, '--dataset', join(root, 'q4'), '--no-caption', '--clap-model', clapDir, '--clap-dtype', 'q4'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--clap-model .*clap \(--clap-dtype q4\): .*missing onnx\/audio_model_q4\.onnx, onnx\/text_model_q4\.onnx/);
    const unknown = await runCli(['crawl', 'local', '--root', sounds, '--dataset', join(root, 'f64'), '--no-caption', '--clap-model', clapDir, '--clap-dtype', 'fp64'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /dtype/);
    assert.match(unknown.stderr, /fp64/);
    const t5 = (await forgeTinyT5(join(root, 't5'), { seed: 2 })).dir;
    const caption = await runCli(['crawl', 'local', '--root', sounds, '--dataset', join(root, 't5-q8'), '--caption-model', t5, '--caption-dtype', 'q8'], env);
    assert.equal(caption.code, 1);
    assert.match(caption.stderr, /--caption-model .*t5 \(--caption-dtype q8\): .*not a usable T5 export for dtype q8: missing onnx\/encoder_model_quantized\.onnx, onnx\/decoder_model_merged_quantized\.onnx \(dtypes present: fp32\)/);
    assert.deepEqual(await ctx.connection.keys(`${prefix}:*`), []);
  });
});
