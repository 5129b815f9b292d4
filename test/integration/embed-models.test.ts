import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { readClapModel } from '../../workers/embed/clap-model.ts';
import type { ClipFeatures } from '../../workers/embed/fusion.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

/** Real ONNX Runtime sessions on the forged tiny CLAP folders (published layout and I/O names). */

let root: string;
let unfusedDir: string;
let fusedDir: string;
let unfused: ClapEmbedder;
let fused: ClapEmbedder;

const CAPTIONS = ['a dog barks in the distance', 'rain falling on a metal roof', 'a car engine starts and a horn honks loudly', 'people talking in a crowded room', 'x'];

function clip(seconds: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  const f = 200 + 100 * seed;
  return Float32Array.from({ length: Math.round(seconds * 48_000) }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / 48_000) + 0.1 * (random.next() - 0.5));
}

/** Loud and rising in its first third, near-silent after: its crops differ from its global view. */
function unevenClip(seconds: number): Float32Array {
  const n = Math.round(seconds * 48_000);
  let phase = 0;
  return Float32Array.from({ length: n }, (_, i) => {
    phase += (2 * Math.PI * (100 + (8000 * i) / n)) / 48_000;
    return (i < n / 3 ? 0.5 : 0.001) * Math.sin(phase);
  });
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-embed-models-'));
  unfusedDir = join(root, 'tiny-clap-unfused');
  fusedDir = join(root, 'tiny-clap-fused');
  await forgeTinyClap(unfusedDir, { seed: 7, fused: false });
  await forgeTinyClap(fusedDir, { seed: 7, fused: true });
  unfused = await ClapEmbedder.load(unfusedDir, { threads: 1 });
  fused = await ClapEmbedder.load(fusedDir, { threads: 1 });
});

after(async () => {
  await Promise.all([unfused?.close(), fused?.close()]);
  await rm(root, { recursive: true, force: true });
});

describe('forgeTinyClap', () => {
  test('published layout and settings', async () => {
    const unfusedInfo = await readClapModel(unfusedDir);
    assert.deepEqual([unfusedInfo.fused, unfusedInfo.truncation, unfusedInfo.filterBank], [false, 'rand_trunc', 'slaney']);
    const fusedInfo = await readClapModel(fusedDir);
    assert.deepEqual([fusedInfo.fused, fusedInfo.truncation, fusedInfo.filterBank], [true, 'fusion', 'htk']);
    const config = JSON.parse(await readFile(join(fusedDir, 'config.json'), 'utf8'));
    assert.equal(config.audio_config.enable_fusion, true);
    assert.equal(config.clapset_forge.trained, false);
  });

  test('the same seed writes byte-identical models; another seed does not', async () => {
    const again = join(root, 'again');
    await forgeTinyClap(again, { seed: 7, fused: false });
    for (const file of ['onnx/audio_model.onnx', 'onnx/text_model.onnx', 'tokenizer.json']) {
      assert.deepEqual(await readFile(join(again, file)), await readFile(join(unfusedDir, file)), file);
    }
    const other = join(root, 'other');
    await forgeTinyClap(other, { seed: 8, fused: false });
    assert.notDeepEqual(await readFile(join(other, 'onnx/audio_model.onnx')), await readFile(join(unfusedDir, 'onnx/audio_model.onnx')));
  });

  test('tokenizer.json is accepted by transformers.js AutoTokenizer, with the same ids as the embedder', async () => {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = dirname(unfusedDir);
    const tokenizer = await AutoTokenizer.from_pretrained(basename(unfusedDir));
    for (const caption of CAPTIONS) {
      const ours = unfused.encode(caption).map(BigInt);
      const theirs = (tokenizer(caption, { truncation: true, max_length: 77 }) as { input_ids: { tolist(): bigint[][] } }).input_ids.tolist()[0]!;
      assert.deepEqual(ours, theirs, caption);
    }
    const ids = unfused.encode('a dog barks');
    assert.equal(ids[0], 0); // <s>
    assert.equal(ids[ids.length - 1], 2); // </s>
  });
});

describe('transformers.js on the same folder', () => {
  test('ClapText/AudioModelWithProjection load it offline and return the raw projection our embedder normalises', async () => {
    const { ClapAudioModelWithProjection, ClapTextModelWithProjection, AutoTokenizer, Tensor, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = dirname(unfusedDir);
    const id = basename(unfusedDir);
    const tokenizer = await AutoTokenizer.from_pretrained(id);
    const textModel = await ClapTextModelWithProjection.from_pretrained(id, { dtype: 'fp32' });
    const audioModel = await ClapAudioModelWithProjection.from_pretrained(id, { dtype: 'fp32' });
    try {
      // One caption: transformers.js feeds the published text graph only input_ids, so a padded batch would change it.
      const { text_embeds } = (await textModel(tokenizer(CAPTIONS.slice(0, 1), { padding: true, truncation: true }))) as { text_embeds: { data: Float32Array } };
      const raw = text_embeds.data.slice(0, 512);
      assert.ok(Math.abs(norm(raw) - 1) > 0.1, 'the export itself does not normalise');
      const [ours] = await unfused.embedText(CAPTIONS.slice(0, 1));
      assert.ok(maxDiff(ours!, raw.map((v) => v / norm(raw))) < 1e-5);

      const features = unfused.features(clip(2, 3), 1);
      const { audio_embeds } = (await audioModel({ input_features: new Tensor('float32', features.data, [1, ...features.shape]) })) as { audio_embeds: { data: Float32Array } };
      const [oursAudio] = await unfused.embedAudio([features]);
      assert.ok(maxDiff(oursAudio!, audio_embeds.data.map((v) => v / norm(audio_embeds.data))) < 1e-5);
    } finally {
      await Promise.all([textModel.dispose(), audioModel.dispose()]);
    }
  });
});

describe('ClapEmbedder', () => {
  test('unit-norm 512-d text embeddings; deterministic across loads; batch of 1 = batch of 4', async () => {
    const batch = await unfused.embedText(CAPTIONS);
    assert.equal(batch.length, CAPTIONS.length);
    for (const v of batch) {
      assert.equal(v.length, 512);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    }
    for (const [i, caption] of CAPTIONS.entries()) {
      const [single] = await unfused.embedText([caption]);
      assert.ok(maxDiff(single!, batch[i]!) < 1e-5, `caption ${i}: padding in a batch changed the embedding`);
    }
    const reloaded = await ClapEmbedder.load(unfusedDir, { threads: 1, textBatchSize: 2 });
    try {
      const again = await reloaded.embedText(CAPTIONS);
      again.forEach((v, i) => assert.ok(maxDiff(v, batch[i]!) < 1e-6));
    } finally {
      await reloaded.close();
    }
    assert.ok(maxDiff(batch[0]!, batch[1]!) > 0.01, 'different captions, different embeddings');
  });

  test('captions past 77 tokens are truncated, keeping </s>', () => {
    const ids = unfused.encode('a dog barks '.repeat(60));
    assert.equal(ids.length, 77);
    assert.equal(ids[76], 2);
  });

  test('unfused audio: rand_trunc features, unit-norm, batch-size invariant', async () => {
    const clips: ClipFeatures[] = [3, 10, 12, 37].map((seconds, i) => unfused.features(clip(seconds, i + 1), `key-${i}`));
    assert.deepEqual(clips.map((c) => c.shape), Array(4).fill([1, 1001, 64]));
    const batch = await unfused.embedAudio(clips);
    for (const [i, c] of clips.entries()) {
      assert.ok(Math.abs(norm(batch[i]!) - 1) < 1e-5);
      const [single] = await unfused.embedAudio([c]);
      assert.ok(maxDiff(single!, batch[i]!) < 1e-5, `clip ${i}`);
    }
    assert.ok(maxDiff(batch[0]!, batch[1]!) > 0.01);
  });

  test('fused audio: four views and is_longer reach the graph', async () => {
    const long = fused.features(unevenClip(25), 'k');
    assert.deepEqual(long.shape, [4, 1001, 64]);
    assert.equal(long.longer, true);
    const short = fused.features(clip(4, 5), 'k');
    assert.equal(short.longer, false);
    const batch = await fused.embedAudio([long, short, long, short]);
    assert.ok(maxDiff(batch[0]!, batch[2]!) < 1e-6);
    const [alone] = await fused.embedAudio([long]);
    assert.ok(maxDiff(alone!, batch[0]!) < 1e-5);
    // The same views with is_longer cleared take the global view only: a different embedding.
    const [asShort] = await fused.embedAudio([{ ...long, longer: false }]);
    assert.ok(maxDiff(asShort!, batch[0]!) > 1e-3);
  });

  test('features of the wrong layout for the checkpoint are refused', async () => {
    const fusionFeatures = fused.features(clip(3, 1), 1);
    await assert.rejects(unfused.embedAudio([fusionFeatures]), /shape \(4, 1001, 64\).*takes \(1, 1001, 64\)/);
  });

  test('a folder that is not a CLAP export, or that contradicts itself, is refused with the reason', async () => {
    await assert.rejects(ClapEmbedder.load(join(root, 'missing')), /missing config\.json.*onnx\/audio_model\.onnx/);
    const broken = join(root, 'broken');
    await forgeTinyClap(broken, { seed: 1, fused: false });
    const pre = JSON.parse(await readFile(join(broken, 'preprocessor_config.json'), 'utf8'));
    await writeFile(join(broken, 'preprocessor_config.json'), JSON.stringify({ ...pre, truncation: 'fusion' }));
    await assert.rejects(readClapModel(broken), /enable_fusion/);
    await writeFile(join(broken, 'preprocessor_config.json'), JSON.stringify({ ...pre, hop_length: 320 }));
    await assert.rejects(readClapModel(broken), /hop_length is 320/);
  });
});
