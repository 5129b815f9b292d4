/**
 * K2C with real ONNX Runtime sessions over the tiny T5 the project forges (demo/forge/t5.ts),
 * in the published layout, so the loading code is the one a real model folder goes through.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoModelForSeq2SeqLM, AutoTokenizer } from '@huggingface/transformers';
import { DeviceUnavailableError, parseDevice, probeDevices } from '../../infra/models/devices.ts';
import { forgeTinyT5, TINY_T5 } from '../../demo/forge/t5.ts';
import { T5Model } from '../../workers/caption/t5-model.ts';
import { beamSearch, type BeamSearchOptions } from '../../workers/caption/beam-search.ts';
import { applyCaptions, captionClips } from '../../workers/caption/caption-clips.ts';
import { createCaptioner } from '../../workers/caption/captioner.ts';
import { KEYTOTEXT_GENERATION, KEYTOTEXT_PROMPT } from '../../workers/caption/t5-captioner.ts';
import { keytotextInputs } from '../../workers/caption/keywords.ts';
import { loadFolderTokenizer } from '../../infra/models/tokenizer.ts';
import { debiasCaption } from '../../workers/caption/debias.ts';

const KEYWORDS = [
  ['dog', 'bark', 'night'],
  ['rain', 'thunder'],
  ['car', 'engine', 'horn', 'street', 'city'],
  ['woman', 'talk'],
  ['piano', 'music'],
  ['bird', 'singing', 'forest', 'wind'],
  ['door', 'slams'],
  ['glass', 'breaks', 'loud'],
  ['train', 'passes', 'distant'],
  ['clock', 'ticks'],
  ['footsteps', 'wood'],
];

let root: string;
let modelDir: string;
let noPastDir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-t5-'));
  modelDir = (await forgeTinyT5(join(root, 'tiny-t5'), { seed: 7 })).dir;
  noPastDir = (await forgeTinyT5(join(root, 'tiny-t5-no-past'), { seed: 7, pastKeyValues: false })).dir;
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function searchOptions(model: T5Model, numBeams: number): BeamSearchOptions {
  return { ...KEYTOTEXT_GENERATION, numBeams, maxLength: 24, decoderStartTokenId: model.special.decoderStartTokenId, eosTokenId: model.special.eosTokenId };
}

async function generate(model: T5Model, prompts: string[], numBeams: number): Promise<number[][]> {
  const encoded = await model.encode(prompts);
  return (await beamSearch(prompts.length, model.stepper(encoded), searchOptions(model, numBeams))).map((s) => s.tokens);
}

describe('tiny T5 forge', () => {
  it('writes the published layout, byte-identical for a seed', async () => {
    const again = (await forgeTinyT5(join(root, 'again'), { seed: 7 })).dir;
    const other = (await forgeTinyT5(join(root, 'other'), { seed: 8 })).dir;
    for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx']) {
      assert.deepEqual(await readFile(join(again, file)), await readFile(join(modelDir, file)), file);
    }
    assert.notDeepEqual(await readFile(join(other, 'onnx/encoder_model.onnx')), await readFile(join(modelDir, 'onnx/encoder_model.onnx')));
    const config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.model_type, 't5');
    assert.equal(config.d_model, TINY_T5.dModel);
  });

  it('has the input/output names of optimum exports', async () => {
    const model = await T5Model.load(modelDir, { device: 'cpu' });
    try {
      assert.equal(model.cached, true);
      const encoded = await model.encode(['dog bark', 'rain']);
      assert.deepEqual(encoded.hidden.dims.slice(0, 1), [2]);
      assert.equal(encoded.hidden.dims[2], TINY_T5.dModel);
    } finally {
      await model.release();
    }
    const ort = await import('onnxruntime-node');
    const decoder = await ort.InferenceSession.create(join(modelDir, 'onnx/decoder_model_merged.onnx'));
    assert.deepEqual(decoder.inputNames.slice(0, 3), ['encoder_attention_mask', 'input_ids', 'encoder_hidden_states']);
    assert.ok(decoder.inputNames.includes('past_key_values.1.encoder.value') && decoder.inputNames.includes('use_cache_branch'));
    assert.deepEqual(decoder.outputNames.slice(0, 2), ['logits', 'present.0.decoder.key']);
    await decoder.release();
  });
});

describe('T5 generation over ONNX Runtime', () => {
  it('num_beams 1 equals transformers.js greedy generate() on the same folder', async () => {
    const model = await T5Model.load(modelDir, { device: 'cpu' });
    const reference = await AutoModelForSeq2SeqLM.from_pretrained(modelDir, { local_files_only: true, dtype: 'fp32', device: 'cpu' });
    const tokenizer = await AutoTokenizer.from_pretrained(modelDir, { local_files_only: true });
    try {
      const prompts = KEYWORDS.slice(0, 5).map((k) => k.join(' '));
      const ours = await generate(model, prompts, 1);
      for (const [index, prompt] of prompts.entries()) {
        const inputs = tokenizer(prompt);
        const output = (await reference.generate({ ...inputs, max_new_tokens: 23, no_repeat_ngram_size: 3, num_beams: 1, do_sample: false } as never)) as unknown as { tolist(): bigint[][] };
        const theirs = (output.tolist()[0] as bigint[]).map(Number).slice(1).filter((token) => token !== model.special.eosTokenId && token !== model.special.padTokenId);
        assert.deepEqual(ours[index], theirs, `prompt ${JSON.stringify(prompt)}`);
      }
    } finally {
      await model.release();
      await reference.dispose();
    }
  });

  it('gives the same tokens with the key/value cache, without it, and with a decoder that has no cache inputs', async () => {
    const cached = await T5Model.load(modelDir, { device: 'cpu' });
    const uncached = await T5Model.load(modelDir, { device: 'cpu', useCache: false });
    const noPast = await T5Model.load(noPastDir, { device: 'cpu' });
    try {
      assert.deepEqual([cached.cached, uncached.cached, noPast.cached], [true, false, false]);
      const prompts = KEYWORDS.map((k) => k.join(' '));
      const expected = await generate(uncached, prompts, 4);
      assert.deepEqual(await generate(cached, prompts, 4), expected);
      assert.deepEqual(await generate(noPast, prompts, 4), expected);
      // Beam search matters on this model: at least one prompt differs from greedy.
      const greedy = await generate(cached, prompts, 1);
      assert.ok(greedy.some((tokens, i) => tokens.join() !== expected[i]?.join()), 'beam search equals greedy everywhere');
      assert.ok(expected.every((tokens) => tokens.length > 0 && tokens.length < 23), 'hypotheses end with EOS before maxLength');
    } finally {
      await Promise.all([cached.release(), uncached.release(), noPast.release()]);
    }
  });
});

describe('T5 captioner', () => {
  it('captions deterministically, labelled as T5 with keytotext parameters and as the forged test model', async () => {
    const first = await createCaptioner({ model: modelDir, env: {} });
    const second = await createCaptioner({ model: modelDir, env: {} });
    try {
      const a = await first.caption(KEYWORDS);
      const b = await second.caption(KEYWORDS);
      assert.deepEqual(a, b);
      assert.equal(a.length, KEYWORDS.length);
      assert.ok(a.every((caption) => caption.length > 0 && !/<\/s>|<pad>/.test(caption)), JSON.stringify(a));
      assert.ok(new Set(a).size > 1);
      assert.equal(first.provenance.captioner, 't5');
      assert.equal(first.provenance.model, 'tiny-t5');
      assert.equal(first.provenance.forged_test_model, true);
      assert.deepEqual(first.provenance.generation, { num_beams: 4, length_penalty: 1.5, no_repeat_ngram_size: 3, early_stopping: true, max_length: 64 });
      assert.equal(first.id, 't5:tiny-t5');
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("feeds keytotext's input: its own </s> before the tokenizer's, as the reference tokenizer encodes it", async () => {
    const ours = await loadFolderTokenizer(modelDir);
    const reference = await AutoTokenizer.from_pretrained(modelDir, { local_files_only: true });
    for (const input of [...keytotextInputs(['dog', 'bark', 'night rain']), ...keytotextInputs(['Crowds', 'p.a.', 'loop'])]) {
      const ids = ours.encode(input);
      assert.deepEqual(ids, (reference.encode(input) as number[]).map(Number), input);
      assert.deepEqual(ids.slice(-2), [1, 1], `${input}: two end-of-sequence tokens`);
    }
  });

  it('captions each "."-separated segment on its own and joins them, as keytotext did', async () => {
    const model = await T5Model.load(modelDir, { device: 'cpu' });
    const captioner = await createCaptioner({ model: modelDir, env: {} });
    try {
      const keywords = ['Crowds', 'p.a.', 'loop'];
      const segments = keytotextInputs(keywords);
      assert.equal(segments.length, 3);
      const encoded = await model.encode(segments);
      const search = { ...KEYTOTEXT_GENERATION, decoderStartTokenId: model.special.decoderStartTokenId, eosTokenId: model.special.eosTokenId };
      const parts = (await beamSearch(segments.length, model.stepper(encoded), search)).map((sequence) => model.decode(sequence.tokens));
      assert.deepEqual(await captioner.caption([keywords]), [debiasCaption(parts.join(' ').replace(/\s+/g, ' ').trim())]);
      assert.equal(captioner.provenance.prompt, KEYTOTEXT_PROMPT);
    } finally {
      await model.release();
      await captioner.close();
    }
  });

  it('returns the same captions batched as one by one', async () => {
    const batched = await createCaptioner({ model: modelDir, batchSize: 8, env: {} });
    const single = await createCaptioner({ model: modelDir, batchSize: 1, env: {} });
    try {
      assert.deepEqual(await batched.caption(KEYWORDS), await single.caption(KEYWORDS));
    } finally {
      await Promise.all([batched.close(), single.close()]);
    }
  });

  it('is chosen by CLAPSET_CAPTION_MODEL, de-biases, skips short clips, and fills the sample fields', async () => {
    const captioner = await createCaptioner({ env: { CLAPSET_CAPTION_MODEL: modelDir } });
    const raw = await createCaptioner({ model: modelDir, debias: false, env: {} });
    try {
      assert.equal(captioner.provenance.captioner, 't5');
      // Some keyword lists make this model say "man"/"his"/"woman"/"her": find one and compare.
      const lists = KEYWORDS.concat([['man', 'his', 'woman', 'her'], ['person', 'man', 'walk'], ['her', 'child', 'laugh']]);
      const plain = await raw.caption(lists);
      const debiased = await captioner.caption(lists);
      const gendered = plain.findIndex((caption) => /\b(man|woman|his|her)\b/i.test(caption));
      assert.ok(gendered >= 0, `no gendered word generated: ${JSON.stringify(plain)}`);
      assert.doesNotMatch(debiased[gendered] as string, /\b(man|woman|his|her)\b/i);
      assert.notEqual(debiased[gendered], plain[gendered]);

      const outcomes = await captionClips(captioner, [
        { text: ['a dog'], tags: ['dog', 'bark', 'dog'], duration: 4 },
        { text: ['a click'], tags: ['click'], duration: 0.5 },
      ]);
      assert.equal(outcomes[0]?.status, 'captioned');
      assert.deepEqual(outcomes[1], { status: 'skipped', reason: 'too_short' });
      const sample = applyCaptions({ key: 'k', text: ['a dog'] }, outcomes[0] as never, captioner.provenance);
      assert.equal(sample.text_augment_all.length, 2);
      assert.equal(sample.caption_provenance.captioner, 't5');
    } finally {
      await Promise.all([captioner.close(), raw.close()]);
    }
  });

  it('names the missing file and the dtypes present', async () => {
    await assert.rejects(createCaptioner({ model: modelDir, dtype: 'q8', env: {} }), /encoder_model_quantized\.onnx.*dtypes present: fp32/);
    const broken = (await forgeTinyT5(join(root, 'broken'), { seed: 7 })).dir;
    await unlink(join(broken, 'tokenizer.json'));
    await assert.rejects(createCaptioner({ model: broken, env: {} }), /missing tokenizer\.json/);
  });
});

describe('devices', () => {
  it('reports cpu as working, and every device it reports unavailable fails clearly instead of falling back', async () => {
    const reports = await probeDevices();
    assert.deepEqual(reports.map((r) => r.device), ['cpu', 'webgpu', 'cuda']);
    assert.equal(reports.find((r) => r.device === 'cpu')?.available, true);
    assert.equal(reports.find((r) => r.device === 'webgpu')?.bundled, true);
    for (const report of reports.filter((r) => !r.available)) {
      assert.match(report.detail, new RegExp(`device ${report.device} is not available`));
      await assert.rejects(createCaptioner({ model: modelDir, device: report.device, env: {} }), (error: unknown) => {
        assert.ok(error instanceof DeviceUnavailableError, String(error));
        assert.equal(error.device, report.device);
        assert.match(error.message, /docs\/captions\.md/);
        return true;
      });
    }
    // Without onnxruntime-node's CUDA provider library CUDA cannot work; with it (a GPU host whose
    // install script ran), either answer is a correct probe, and the loop above checked a failure.
    if (!(await cudaProviderInstalled())) assert.equal(reports.find((r) => r.device === 'cuda')?.available, false);
  });

  it('rejects an unknown device name', () => {
    assert.equal(parseDevice(' WebGPU '), 'webgpu');
    assert.throws(() => parseDevice('tpu'), /unknown device "tpu": choose one of cpu, webgpu, cuda/);
  });
});

async function cudaProviderInstalled(): Promise<boolean> {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  const binaries = join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  return access(join(binaries, 'libonnxruntime_providers_cuda.so')).then(() => true, () => false);
}
