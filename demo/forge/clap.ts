/**
 * Forges a tiny, seeded, CLAP-shaped model in the published ONNX layout (Xenova/clap-htsat-unfused,
 * Xenova/larger_clap_general):
 *
 *   <dir>/config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json,
 *         special_tokens_map.json, onnx/audio_model.onnx, onnx/text_model.onnx
 *
 * with the graph signatures of the published exports, so the loader that serves real weights
 * (workers/embed/clap-embedder.ts) runs unchanged in tests and the demo. Those folders were exported
 * by transformers.js' `scripts/extra/clap.py` (ClapText/AudioModelWithProjectionOnnxConfig) on top of
 * optimum's CLAP configs from optimum PR #1552 (branch `clap`, commit eee96f7a), which declare:
 *
 *   audio_model.onnx: input_features float32 {0: audio_batch_size, 1: num_channels, 2: height, 3: width}
 *                     (+ is_longer bool {0: audio_batch_size} when fused) → audio_embeds {0: batch_size}
 *   text_model.onnx:  input_ids int64 {0: batch_size, 1: sequence_length} — and nothing else: no
 *                     attention_mask → text_embeds {0: batch_size}
 *
 * Like the published exports (HF `Clap*ModelWithProjection.forward`), the graphs return the projection
 * *before* L2 normalisation; the embedder normalises. The maths is a stand-in with the right contract:
 * audio = MLP(mean over time of the scaled log-mel; fused clips that are `is_longer` average all four
 * views, others use the first); text = MLP(first token + mean of all tokens). Without a mask every
 * position counts, padding included — as in HF's ClapTextModel, which attends to every token when no
 * mask is given and pools the first — so a padded batch changes a caption's embedding, exactly the
 * trap the embedder must avoid. `textMask: true` forges the variant that declares `attention_mask`
 * (masked mean), as other exports do.
 *
 * CLI: node --import tsx demo/forge/clap.ts <dir> [--seed 7] [--fused] [--text-mask]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { attr, ELEM, encodeModel, GraphBuilder } from '../../infra/models/onnx-builder.ts';
import { seededGaussian } from './seeded-gaussian.ts';

export interface TinyClapOptions {
  /** Seed of every weight; the same seed writes byte-identical files. Default 7. */
  seed?: number;
  /** A fused checkpoint (enable_fusion, 4 views + is_longer, truncation "fusion", HTK filters). Default false. */
  fused?: boolean;
  /** The text graph also declares `attention_mask` (the published one does not). Default false. */
  textMask?: boolean;
  /**
   * Export variants written beside the fp32 graphs, as transformers.js' quantize.py names them:
   * `fp16` → `*_fp16.onnx` (float16 weights and projection maths, float32 inputs and outputs as
   * `keep_io_types=True` leaves them), `q8` → `*_quantized.onnx` (int8 weights, activations quantized
   * at run time: DynamicQuantizeLinear + MatMulInteger, what ONNX Runtime's dynamic IntegerOps
   * quantizer emits). Default none.
   */
  variants?: readonly ('fp16' | 'q8')[];
}

type Precision = 'fp32' | 'fp16' | 'q8';
const VARIANT_SUFFIX: Record<Precision, string> = { fp32: '', fp16: '_fp16', q8: '_quantized' };

/** The tiny model's dimensions (fixed: tests and docs quote them). */
export const TINY_CLAP = { projectionDim: 512, hidden: 128, tokenDim: 64, melBins: 64, frames: 1001 } as const;

export async function forgeTinyClap(dir: string, options: TinyClapOptions = {}): Promise<{ dir: string; vocabSize: number; fused: boolean }> {
  const seed = options.seed ?? 7;
  const fused = options.fused ?? false;
  const textMask = options.textMask ?? false;
  const tokenizer = tinyRobertaTokenizer();
  const random = seededGaussian(seed);
  const audioWeights = mlpWeights(random, TINY_CLAP.melBins);
  const tokenTable = matrix(random, tokenizer.vocabSize, TINY_CLAP.tokenDim, 1);
  const textWeights = mlpWeights(random, TINY_CLAP.tokenDim);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const precision of ['fp32', ...(options.variants ?? [])] as const) {
    const suffix = VARIANT_SUFFIX[precision];
    await writeFile(join(dir, 'onnx', `audio_model${suffix}.onnx`), encodeModel(audioGraph(audioWeights, fused, precision), { docString: `clapset tiny CLAP audio model, seed ${seed}, ${precision}` }));
    await writeFile(join(dir, 'onnx', `text_model${suffix}.onnx`), encodeModel(textGraph(tokenTable, tokenizer.vocabSize, textWeights, textMask, precision), { docString: `clapset tiny CLAP text model, seed ${seed}, ${precision}` }));
  }
  const json = (name: string, value: unknown): Promise<void> => writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await json('config.json', configJson(fused, tokenizer.vocabSize, seed, textMask));
  await json('preprocessor_config.json', preprocessorConfig(fused));
  await json('tokenizer.json', tokenizer.json);
  await json('tokenizer_config.json', {
    tokenizer_class: 'RobertaTokenizer',
    model_max_length: 512,
    bos_token: '<s>',
    eos_token: '</s>',
    sep_token: '</s>',
    cls_token: '<s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    mask_token: '<mask>',
    add_prefix_space: false,
    errors: 'replace',
    clean_up_tokenization_spaces: true,
  });
  await json('special_tokens_map.json', { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' });
  return { dir, vocabSize: tokenizer.vocabSize, fused };
}

interface MlpWeights {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  inputDim: number;
}

function matrix(random: () => number, rows: number, cols: number, scale: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => random() * scale);
}

/** CLAP's projection is Linear → ReLU → Linear; He-style scales keep activations O(1). */
function mlpWeights(random: () => number, inputDim: number): MlpWeights {
  const { hidden, projectionDim } = TINY_CLAP;
  return {
    inputDim,
    w1: matrix(random, inputDim, hidden, Math.sqrt(2 / inputDim)),
    b1: matrix(random, 1, hidden, 0.1),
    w2: matrix(random, hidden, projectionDim, Math.sqrt(1 / hidden)),
    b2: matrix(random, 1, projectionDim, 0.1),
  };
}

/** CLAP's projection head (Linear → ReLU → Linear) on a float32 value, in the variant's precision; returns float32. */
function projection(g: GraphBuilder, x: string, weights: MlpWeights, prefix: string, precision: Precision): string {
  const { hidden, projectionDim } = TINY_CLAP;
  const shapes = { w1: [weights.inputDim, hidden], b1: [hidden], w2: [hidden, projectionDim], b2: [projectionDim] } as const;
  const names = { w1: 'linear1.weight', b1: 'linear1.bias', w2: 'linear2.weight', b2: 'linear2.bias' } as const;
  if (precision === 'fp16') {
    const half = (name: keyof typeof shapes) => g.initializer(`${prefix}.${names[name]}`, 'float16', shapes[name], toFloat16(weights[name]));
    const h = g.op('Relu', [g.op('Add', [g.op('MatMul', [g.op('Cast', [x], { to: attr.int(ELEM.float16) }), half('w1')]), half('b1')])]);
    return g.op('Cast', [g.op('Add', [g.op('MatMul', [h, half('w2')]), half('b2')])], { to: attr.int(ELEM.float32) });
  }
  const bias = (name: 'b1' | 'b2') => g.initializer(`${prefix}.${names[name]}`, 'float32', shapes[name], weights[name]);
  const matmul = (input: string, name: 'w1' | 'w2'): string => {
    if (precision === 'fp32') return g.op('MatMul', [input, g.initializer(`${prefix}.${names[name]}`, 'float32', shapes[name], weights[name])]);
    // Symmetric per-tensor int8 weights; uint8 activations with their scale and zero point found per run.
    const w = weights[name];
    const scale = Math.max(...w.map(Math.abs)) / 127;
    const wq = g.initializer(`${prefix}.${names[name]}_quantized`, 'int8', shapes[name], Int8Array.from(w, (v) => Math.round(v / scale)));
    const wZero = g.initializer(`${prefix}.${names[name]}_zero_point`, 'int8', [], Int8Array.of(0));
    const [xq, xScale, xZero] = g.node('DynamicQuantizeLinear', [input], [`${prefix}.${names[name]}.xq`, `${prefix}.${names[name]}.x_scale`, `${prefix}.${names[name]}.x_zero_point`]) as [string, string, string];
    const product = g.op('Cast', [g.op('MatMulInteger', [xq, wq, xZero, wZero])], { to: attr.int(ELEM.float32) });
    return g.op('Mul', [product, g.op('Mul', [xScale, g.float32s([scale], [])])]);
  };
  const h = g.op('Relu', [g.op('Add', [matmul(x, 'w1'), bias('b1')])]);
  return g.op('Add', [matmul(h, 'w2'), bias('b2')]);
}

/** IEEE half bit patterns, rounded to nearest even (what numpy's astype(float16) gives for these magnitudes). */
function toFloat16(values: Float32Array): Uint16Array {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  return Uint16Array.from(values, (value) => {
    f32[0] = value;
    const bits = u32[0]!;
    const sign = (bits >>> 16) & 0x8000;
    const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
    if (exponent <= 0) return sign; // below half's normal range: these weights never are, flush to zero
    if (exponent >= 31) return sign | 0x7c00;
    const mantissa = bits & 0x7fffff;
    let half = sign | (exponent << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
    return half;
  });
}

function audioGraph(weights: MlpWeights, fused: boolean, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('clap_audio_model');
  // Every axis dynamic, named as optimum's ClapAudioModelWithProjectionOnnxConfig names them.
  const features = g.input('input_features', 'float32', ['audio_batch_size', 'num_channels', 'height', 'width']);
  // dB values span about -100..+40: scale to O(1) before the MLP.
  const scaled = g.op('Mul', [features, g.float32s([1 / 40], [])]);
  const perView = g.op('ReduceMean', [scaled], { axes: attr.ints([2]), keepdims: attr.int(0) }); // [batch, views, mels]
  let pooled: string;
  if (fused) {
    const isLonger = g.input('is_longer', 'bool', ['audio_batch_size', 1]);
    const allViews = g.op('ReduceMean', [perView], { axes: attr.ints([1]), keepdims: attr.int(0) });
    const globalView = g.op('Gather', [perView, g.int64s([0], true)], { axis: attr.int(1) });
    pooled = g.op('Where', [isLonger, allViews, globalView]); // is_longer [batch, 1] broadcasts over mels
  } else {
    pooled = g.op('ReduceMean', [perView], { axes: attr.ints([1]), keepdims: attr.int(0) });
  }
  g.output('audio_embeds', 'float32', ['batch_size', TINY_CLAP.projectionDim], projection(g, pooled, weights, 'audio_projection', precision));
  return g;
}

function textGraph(tokenTable: Float32Array, vocabSize: number, weights: MlpWeights, withMask: boolean, precision: Precision): GraphBuilder {
  const g = new GraphBuilder('clap_text_model');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = g.initializer('embeddings.word_embeddings.weight', 'float32', [vocabSize, TINY_CLAP.tokenDim], tokenTable);
  const tokens = g.op('Gather', [table, ids], { axis: attr.int(0) }); // [batch, seq, dim]
  let mean: string;
  if (withMask) {
    const mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
    const weight = g.op('Unsqueeze', [g.op('Cast', [mask], { to: attr.int(1) }), g.int64s([2])]); // [batch, seq, 1]
    const sum = g.op('ReduceSum', [g.op('Mul', [tokens, weight]), g.int64s([1])], { keepdims: attr.int(0) });
    const count = g.op('Max', [g.op('ReduceSum', [weight, g.int64s([1])], { keepdims: attr.int(0) }), g.float32s([1], [])]);
    mean = g.op('Div', [sum, count]);
  } else {
    mean = g.op('ReduceMean', [tokens], { axes: attr.ints([1]), keepdims: attr.int(0) }); // padding counts
  }
  const first = g.op('Gather', [tokens, g.int64s([0], true)], { axis: attr.int(1) }); // <s>, as HF's pooler
  const pooled = g.op('Add', [first, mean]);
  g.output('text_embeds', 'float32', ['batch_size', TINY_CLAP.projectionDim], projection(g, pooled, weights, 'text_projection', precision));
  return g;
}

/** HF ClapConfig's shape, with tiny sizes and a marker that the folder is generated, not trained. */
function configJson(fused: boolean, vocabSize: number, seed: number, textMask: boolean): Record<string, unknown> {
  return {
    architectures: ['ClapModel'],
    model_type: 'clap',
    projection_dim: TINY_CLAP.projectionDim,
    projection_hidden_act: 'relu',
    logit_scale_init_value: 14.285714285714285,
    audio_config: {
      model_type: 'clap_audio_model',
      enable_fusion: fused,
      fusion_type: fused ? 'aff_2d' : null,
      num_mel_bins: TINY_CLAP.melBins,
      spec_size: 256,
      hidden_size: TINY_CLAP.hidden,
      projection_dim: TINY_CLAP.projectionDim,
    },
    text_config: {
      model_type: 'clap_text_model',
      vocab_size: vocabSize,
      hidden_size: TINY_CLAP.tokenDim,
      max_position_embeddings: 514,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      projection_dim: TINY_CLAP.projectionDim,
    },
    clapset_forge: { generator: 'demo/forge/clap.ts', seed, fused, text_mask: textMask, trained: false },
  };
}

/** HF ClapFeatureExtractor's settings, as the published folders carry them. */
function preprocessorConfig(fused: boolean): Record<string, unknown> {
  return {
    feature_extractor_type: 'ClapFeatureExtractor',
    processor_class: 'ClapProcessor',
    sampling_rate: 48_000,
    feature_size: TINY_CLAP.melBins,
    fft_window_size: 1024,
    hop_length: 480,
    nb_frequency_bins: 513,
    frequency_min: 50,
    frequency_max: 14_000,
    max_length_s: 10,
    chunk_length_s: 10,
    nb_max_samples: 480_000,
    nb_max_frames: 1000,
    padding: 'repeatpad',
    truncation: fused ? 'fusion' : 'rand_trunc',
    padding_side: 'right',
    padding_value: 0,
    return_attention_mask: false,
    top_db: null,
  };
}

/** Words of sound captions: the corpus the tiny BPE learns its merges from. */
const CORPUS = [
  'a dog barks loudly in the distance', 'a cat meows near the door', 'birds are singing in the forest at night',
  'rain is falling on a metal roof', 'thunder rumbles while the wind blows', 'water flows in a small river',
  'waves crash on the sea shore', 'a car engine starts and a horn honks', 'a train passes by a station',
  'a door slams and footsteps are walking away', 'people are talking and laughing in a crowded room',
  'a man speaks while a woman laughs', 'a piano and a guitar are playing music', 'a drum beats and a bell rings',
  'a clock ticks in a quiet room', 'city street noise with traffic', 'glass breaks on a wooden floor',
  'an old machine is humming and buzzing', 'a child is singing a song', 'the sound of typing on a keyboard',
];

/** GPT-2's byte ↔ printable-character map, which RoBERTa's byte-level BPE uses. */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable.includes(b) ? b : 256 + extra++);
  return map;
}

/**
 * A RoBERTa-style tokenizers-format BPE: byte-level pre-tokenizer, the 256 byte symbols, merges learned
 * (greedily, deterministically) from a small caption corpus, `<s> … </s>` post-processing — the same
 * kinds of components as roberta-base's tokenizer.json, at a tiny size.
 */
export function tinyRobertaTokenizer(merges = 200): { json: Record<string, unknown>; vocabSize: number } {
  const byteChars = bytesToUnicode();
  const specials = ['<s>', '<pad>', '</s>', '<unk>'];
  const vocab: string[] = [...specials, ...byteChars];
  const words = new Map<string, number>();
  for (const line of CORPUS) {
    line.split(' ').forEach((word, i) => {
      const bytes = Buffer.from(i === 0 ? word : ` ${word}`, 'utf8');
      const symbols = Array.from(bytes, (b) => byteChars[b]!).join('\u0000');
      words.set(symbols, (words.get(symbols) ?? 0) + 1);
    });
  }
  let segmented = [...words.entries()].map(([symbols, count]) => ({ symbols: symbols.split('\u0000'), count }));
  const mergeList: string[] = [];
  for (let step = 0; step < merges; step++) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of segmented) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(pair, (pairs.get(pair) ?? 0) + count);
      }
    }
    // Most frequent pair, ties broken by the pair text so the merges never depend on Map order.
    let best: string | null = null;
    let bestCount = 1;
    for (const [pair, count] of pairs) if (count > bestCount || (count === bestCount && best !== null && pair < best)) [best, bestCount] = [pair, count];
    if (best === null) break;
    const [left, right] = best.split(' ') as [string, string];
    mergeList.push(best);
    if (!vocab.includes(left + right)) vocab.push(left + right); // another merge order may have made it already
    segmented = segmented.map(({ symbols, count }) => {
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else merged.push(symbols[i]!);
      }
      return { symbols: merged, count };
    });
  }
  vocab.push('<mask>');
  const ids = Object.fromEntries(vocab.map((token, id) => [token, id]));
  const added = (id: number, content: string, lstrip = false) => ({ id, content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...specials.map((s, id) => added(id, s)), added(vocab.length - 1, '<mask>', true)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { ...byteLevel, add_prefix_space: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: ids,
      merges: mergeList,
    },
  };
  return { json, vocabSize: vocab.length };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { seed: { type: 'string', default: '7' }, fused: { type: 'boolean', default: false }, 'text-mask': { type: 'boolean', default: false } } });
  const dir = positionals[0];
  if (dir === undefined) {
    console.error('usage: clap.ts <dir> [--seed 7] [--fused] [--text-mask]');
    process.exit(2);
  }
  console.log(JSON.stringify(await forgeTinyClap(dir, { seed: Number(values.seed), fused: values.fused, textMask: values['text-mask'] })));
}
