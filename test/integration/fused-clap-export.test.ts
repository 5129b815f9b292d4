import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { encodeNpy } from '../../infra/npy.ts';
import { ClapEmbedder } from '../../workers/embed/clap-embedder.ts';
import { readClapModel } from '../../workers/embed/clap-model.ts';
import { clipFeaturesWithCrops, type ClipFeatures } from '../../workers/embed/fusion.ts';
import { fixtureClips } from '../fixtures/fused-clap/clips.ts';

/**
 * The fused export, end to end (docs/embeddings.md "Exporting a fused checkpoint"): a shrunken
 * LAION-CLAP HTSAT with fusion (LAION-CLAP's own htsat.py / feature_fusion.py, random seeded weights)
 * exported by scripts/export-clap-onnx.py, committed with PyTorch's embeddings of three clips
 * (test/fixtures/fused-clap/, made by scripts/make-fused-clap-fixture.sh). Here the clips go through
 * clapset's own features, `is_longer`, ONNX Runtime session and L2 normalisation, and must land on
 * PyTorch's unit embeddings to 1e-4. No Python at test time.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/fused-clap/', import.meta.url));
const TOLERANCE = 1e-4;

interface FixtureClipEntry {
  name: string;
  seed: number;
  samples: number;
  crops: { kind: string; frameOffsets?: number[] };
  clapset_features_npy_sha256: string;
  is_longer: boolean;
  torch_unit_embedding: number[];
  flipped: { is_longer: boolean; torch_unit_embedding: number[] };
}

let root: string;
let modelDir: string;
let embedder: ClapEmbedder;
let expected: FixtureClipEntry[];
const clips = fixtureClips();

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function entry(name: string): FixtureClipEntry {
  const found = expected.find((e) => e.name === name);
  assert.ok(found, `fixture has no clip ${name}`);
  return found;
}

before(async () => {
  expected = (JSON.parse(await readFile(join(FIXTURE, 'embeddings.json'), 'utf8')) as { clips: FixtureClipEntry[] }).clips;
  root = await mkdtemp(join(tmpdir(), 'clapset-fused-export-'));
  modelDir = join(root, 'fused-export');
  // The export is audio only (LAION-CLAP's text branch is transformers' RoBERTa): the folder's text
  // graph and tokenizer are the forge's stand-ins, so ClapEmbedder.load sees a complete folder. Audio
  // graph, config.json and preprocessor_config.json are the exported ones.
  await forgeTinyClap(modelDir, { seed: 7, fused: true });
  for (const file of ['config.json', 'preprocessor_config.json', join('onnx', 'audio_model.onnx')]) {
    await copyFile(join(FIXTURE, 'model', file), join(modelDir, file));
  }
  embedder = await ClapEmbedder.load(modelDir, { threads: 1 });
});

after(async () => {
  await embedder?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('fused CLAP export (scripts/export-clap-onnx.py) against LAION-CLAP PyTorch', () => {
  test('the exported graph declares is_longer as a real bool input beside input_features, in the published layout', async () => {
    const session = await ort.InferenceSession.create(join(FIXTURE, 'model', 'onnx', 'audio_model.onnx'));
    try {
      assert.deepEqual(session.inputNames, ['input_features', 'is_longer']);
      assert.deepEqual(session.outputNames, ['audio_embeds']);
      const meta = Object.fromEntries([...session.inputMetadata, ...session.outputMetadata].map((m) => [m.name, m]));
      const tensor = (name: string) => {
        const m = meta[name];
        assert.ok(m?.isTensor, `${name} is a tensor`);
        return m as { type: string; shape: readonly (number | string)[] };
      };
      assert.equal(tensor('is_longer').type, 'bool');
      assert.deepEqual(tensor('is_longer').shape, ['audio_batch_size', 1]);
      assert.equal(tensor('input_features').type, 'float32');
      assert.deepEqual(tensor('input_features').shape, ['audio_batch_size', 'num_channels', 'height', 'width']);
      assert.deepEqual(tensor('audio_embeds').shape, ['batch_size', 512]);
    } finally {
      await session.release();
    }
    const info = await readClapModel(modelDir);
    assert.equal(info.fused, true);
    assert.equal(info.truncation, 'fusion');
    assert.equal(info.filterBank, 'htk');
  });

  test("clapset's features of the clips are the ones PyTorch was fed (same bytes as `clapset features --seed`), with LAION's is_longer", () => {
    for (const clip of clips) {
      const want = entry(clip.name);
      assert.equal(clip.pcm.length, want.samples, clip.name);
      const { features, crops } = clipFeaturesWithCrops(clip.pcm, embedder.featureOptions(clip.seed));
      assert.deepEqual(features.shape, [4, 1001, 64]);
      assert.equal(features.longer, want.is_longer, `${clip.name} is_longer`);
      assert.deepEqual(crops, want.crops, `${clip.name} crops`);
      const sha = createHash('sha256').update(encodeNpy(features.data, features.shape)).digest('hex');
      assert.equal(sha, want.clapset_features_npy_sha256, `${clip.name}: clapset's features changed since the fixture was made (rerun scripts/make-fused-clap-fixture.sh)`);
    }
    // 3 s and exactly 10 s: not longer (four copies); 37 s: longer, three crops from the thirds.
    assert.deepEqual(clips.map((c) => entry(c.name).is_longer), [false, false, true]);
  });

  test('clapset embeddings (features → ONNX Runtime → L2 norm) equal PyTorch to 1e-4, each clip alone and all in one batch', async (t) => {
    const features = clips.map((clip) => embedder.features(clip.pcm, clip.seed));
    const batched = await embedder.embedAudio(features);
    let worst = 0;
    for (const [i, clip] of clips.entries()) {
      const [alone] = await embedder.embedAudio([features[i]!]);
      const want = entry(clip.name).torch_unit_embedding;
      const norm = Math.sqrt(alone!.reduce((s, x) => s + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-6, `${clip.name}: unit norm (${norm})`);
      const dAlone = maxDiff(alone!, want);
      const dBatch = maxDiff(batched[i]!, want);
      worst = Math.max(worst, dAlone, dBatch);
      t.diagnostic(`${clip.name}: max |clapset − PyTorch| alone ${dAlone.toExponential(2)}, batched ${dBatch.toExponential(2)}`);
      assert.ok(dAlone <= TOLERANCE, `${clip.name} alone: ${dAlone}`);
      assert.ok(dBatch <= TOLERANCE, `${clip.name} batched: ${dBatch}`);
    }
    t.diagnostic(`worst ${worst.toExponential(2)} (tolerance ${TOLERANCE})`);
  });

  test('both branches are in the graph: is_longer flipped gives PyTorch\'s other-branch embedding, far from the actual one', async (t) => {
    const features = clips.map((clip) => embedder.features(clip.pcm, clip.seed));
    const flipped: ClipFeatures[] = features.map((f) => ({ ...f, longer: !f.longer }));
    // Mixed batch: every clip with its actual flag and with the flipped one.
    const out = await embedder.embedAudio([...features, ...flipped]);
    for (const [i, clip] of clips.entries()) {
      const want = entry(clip.name);
      assert.equal(want.flipped.is_longer, !want.is_longer);
      const dFlipped = maxDiff(out[clips.length + i]!, want.flipped.torch_unit_embedding);
      const separation = maxDiff(want.flipped.torch_unit_embedding, want.torch_unit_embedding);
      t.diagnostic(`${clip.name}: flipped max |Δ| ${dFlipped.toExponential(2)}; actual vs flipped ${separation.toFixed(3)}`);
      assert.ok(dFlipped <= TOLERANCE, `${clip.name} flipped: ${dFlipped}`);
      assert.ok(maxDiff(out[i]!, want.torch_unit_embedding) <= TOLERANCE, `${clip.name} actual, mixed batch`);
      // The 1e-4 comparison can tell the branches apart by a factor of hundreds.
      assert.ok(separation > 100 * TOLERANCE, `${clip.name}: is_longer changes the embedding by ${separation}`);
      assert.ok(maxDiff(out[clips.length + i]!, out[i]!) > 100 * TOLERANCE, `${clip.name}: clapset's is_longer reaches the graph`);
    }
  });

  test('the crop positions matter: the 37-s clip with other crops misses PyTorch by far more than the tolerance', async (t) => {
    const long = clips.find((c) => c.name === 'clip-37s')!;
    const want = entry(long.name);
    const other = clipFeaturesWithCrops(long.pcm, embedder.featureOptions(long.seed + 1));
    assert.notDeepEqual(other.crops.frameOffsets, want.crops.frameOffsets);
    const [embedding] = await embedder.embedAudio([other.features]);
    const d = maxDiff(embedding!, want.torch_unit_embedding);
    t.diagnostic(`37-s clip, crops ${JSON.stringify(other.crops.frameOffsets)} instead of ${JSON.stringify(want.crops.frameOffsets)}: max |Δ| ${d.toExponential(2)}`);
    assert.ok(d > 10 * TOLERANCE, `other crops change the embedding by ${d}`);
  });
});

/**
 * The `hf` path (what `laion/clap-htsat-fused` and converted LAION checkpoints take): a shrunken,
 * randomly initialised fused ClapModel in transformers' format (scripts/make-tiny-hf-clap.py),
 * exported by `export-clap-onnx.py hf` to a complete folder (audio and text graphs, tokenizer,
 * configs), committed as test/fixtures/fused-clap-hf/ with PyTorch's embeddings
 * (scripts/make-fused-clap-hf-fixture.sh). The folder is loaded as written.
 */
describe('fused CLAP export, hf path (transformers ClapModel) against PyTorch', () => {
  const HF = join(FIXTURE, '..', 'fused-clap-hf');
  interface HfExpected {
    clips: (Pick<FixtureClipEntry, 'name' | 'seed' | 'clapset_features_npy_sha256' | 'is_longer' | 'torch_unit_embedding' | 'flipped'>)[];
    texts: { text: string; input_ids: number[]; torch_unit_embedding: number[] }[];
  }
  let hf: ClapEmbedder;
  let want: HfExpected;

  before(async () => {
    want = JSON.parse(await readFile(join(HF, 'embeddings.json'), 'utf8')) as HfExpected;
    hf = await ClapEmbedder.load(join(HF, 'model'), { threads: 1 });
  });
  after(async () => {
    await hf?.close();
  });

  test('the exported folder loads as is: fused, fusion features, is_longer input, 128-d', async () => {
    assert.equal(hf.model.fused, true);
    assert.equal(hf.model.truncation, 'fusion');
    assert.equal(hf.model.filterBank, 'htk');
    assert.equal(hf.dim, 128);
    const session = await ort.InferenceSession.create(join(HF, 'model', 'onnx', 'audio_model.onnx'));
    const text = await ort.InferenceSession.create(join(HF, 'model', 'onnx', 'text_model.onnx'));
    try {
      assert.deepEqual(session.inputNames, ['input_features', 'is_longer']);
      assert.deepEqual(text.inputNames, ['input_ids']);
      assert.deepEqual(text.outputNames, ['text_embeds']);
    } finally {
      await Promise.all([session.release(), text.release()]);
    }
  });

  test('audio: clapset equals transformers PyTorch to 1e-4, alone, batched and with is_longer flipped', async (t) => {
    const features = clips.map((clip) => hf.features(clip.pcm, clip.seed));
    for (const [i, clip] of clips.entries()) {
      const expected = want.clips.find((c) => c.name === clip.name)!;
      assert.equal(createHash('sha256').update(encodeNpy(features[i]!.data, features[i]!.shape)).digest('hex'), expected.clapset_features_npy_sha256);
      assert.equal(features[i]!.longer, expected.is_longer);
    }
    const flipped = features.map((f) => ({ ...f, longer: !f.longer }));
    const batched = await hf.embedAudio([...features, ...flipped]);
    for (const [i, clip] of clips.entries()) {
      const expected = want.clips.find((c) => c.name === clip.name)!;
      const [alone] = await hf.embedAudio([features[i]!]);
      const d = [maxDiff(alone!, expected.torch_unit_embedding), maxDiff(batched[i]!, expected.torch_unit_embedding), maxDiff(batched[clips.length + i]!, expected.flipped.torch_unit_embedding)];
      t.diagnostic(`${clip.name}: alone ${d[0]!.toExponential(2)}, batched ${d[1]!.toExponential(2)}, flipped ${d[2]!.toExponential(2)}`);
      for (const x of d) assert.ok(x <= TOLERANCE, `${clip.name}: ${d.join(', ')}`);
      assert.ok(maxDiff(expected.flipped.torch_unit_embedding, expected.torch_unit_embedding) > 100 * TOLERANCE, `${clip.name}: is_longer matters`);
    }
  });

  test("text: clapset's tokens are transformers' and its text embeddings equal PyTorch to 1e-4", async (t) => {
    const out = await hf.embedText(want.texts.map((x) => x.text));
    for (const [i, expected] of want.texts.entries()) {
      assert.deepEqual(hf.encode(expected.text), expected.input_ids, expected.text);
      const d = maxDiff(out[i]!, expected.torch_unit_embedding);
      t.diagnostic(`${JSON.stringify(expected.text)}: ${d.toExponential(2)}`);
      assert.ok(d <= TOLERANCE, `${expected.text}: ${d}`);
    }
  });
});
