/**
 * Forges a tiny, seeded, T5-shaped text2text model in the published ONNX layout (Xenova/t5-small):
 *
 *   <dir>/config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 *         special_tokens_map.json, onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx
 *
 * with the same input/output names as optimum's exports, so the loading code that serves a real
 * model (infra/models/t5-sessions.ts, transformers.js) is exercised unchanged by tests and the demo.
 * No model hub is reachable here, so this is the only T5 the project can run offline.
 *
 * The maths is T5-like (RMS norm, unscaled attention, ReLU feed-forward) without relative position
 * buckets — the weights are random, so only the shapes and the caching contract matter:
 *   encoder:  input_ids, attention_mask (int64 [batch, seq]) → last_hidden_state [batch, seq, d_model]
 *   decoder:  encoder_attention_mask, input_ids, encoder_hidden_states,
 *             past_key_values.{i}.{decoder,encoder}.{key,value} [batch, heads, len, d_kv], use_cache_branch
 *             → logits [batch, seq, vocab], present.{i}.{decoder,encoder}.{key,value}
 * The merged decoder behaves like optimum's: with use_cache_branch = false it ignores the (empty)
 * past and computes everything from input_ids; with true it appends the new tokens' self-attention
 * keys/values to the past ones and reuses the past cross-attention keys/values. `pastKeyValues: false`
 * forges a decoder without cache inputs instead (the other shape a decoder export can have).
 *
 * CLI: node --import tsx demo/forge/t5.ts <dir> [--seed 7] [--no-past]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { attr, encodeModel, GraphBuilder } from '../../infra/models/onnx-builder.ts';
import { seededGaussian } from './seeded-gaussian.ts';

export interface TinyT5Options {
  /** Seed of every weight; the same seed writes byte-identical files. Default 7. */
  seed?: number;
  /** Forge the merged decoder with past_key_values inputs (the published layout). Default true. */
  pastKeyValues?: boolean;
}

/** The tiny model's dimensions (fixed: tests and docs quote them). */
export const TINY_T5 = { dModel: 32, dKv: 16, numHeads: 2, dFf: 64, encoderLayers: 1, decoderLayers: 2 } as const;

const SPECIALS = ['<pad>', '</s>', '<unk>'] as const;
/** Words a sound-tag vocabulary needs, plus the de-biasing targets so tests can see them generated. */
const WORDS = [
  'the', 'a', 'of', 'and', 'in', 'on', 'with', 'is', 'are', 'while', 'near', 'at', 'by', 'from', 'into', 'as',
  'dog', 'dogs', 'bark', 'barks', 'barking', 'cat', 'meow', 'bird', 'birds', 'sing', 'singing', 'chirp',
  'rain', 'falls', 'falling', 'thunder', 'wind', 'blows', 'water', 'river', 'sea', 'waves', 'crash',
  'car', 'engine', 'horn', 'train', 'passes', 'door', 'slams', 'knock', 'footsteps', 'walk', 'walking',
  'man', 'woman', 'his', 'her', 'person', 'their', 'child', 'people', 'talk', 'talking', 'laugh', 'speech',
  'music', 'piano', 'guitar', 'drum', 'bell', 'rings', 'clock', 'ticks', 'city', 'street', 'forest', 'night',
  'loud', 'soft', 'distant', 'close', 'small', 'big', 'old', 'metal', 'wood', 'glass', 'breaks', 'noise', 'sound',
] as const;
/** Added to the </s> logit per decoder position (see decoderGraph). */
const EOS_PER_POSITION = 0.9;
const PIECES = ['s', 'ing', 'ed', 'e', 'a', 'o', 'i', 'n', 'r', 't', 'l', '.', ',', '▁'] as const;

/** The vocabulary in id order: specials, then ▁words, then sub-word pieces (so any text tokenizes). */
export function tinyT5Vocabulary(): string[] {
  return [...SPECIALS, ...WORDS.map((w) => `▁${w}`), ...PIECES];
}

export async function forgeTinyT5(dir: string, options: TinyT5Options = {}): Promise<{ dir: string; vocabSize: number }> {
  const seed = options.seed ?? 7;
  const withPast = options.pastKeyValues ?? true;
  const vocab = tinyT5Vocabulary();
  const random = seededGaussian(seed);
  // One draw order for every weight, so a seed fixes the model whatever the layout option.
  const weights = drawWeights(random, vocab.length);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFile(join(dir, 'onnx', 'encoder_model.onnx'), encodeModel(encoderGraph(weights), { docString: `clapset tiny T5 encoder, seed ${seed}` }));
  await writeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), encodeModel(decoderGraph(weights, withPast), { docString: `clapset tiny T5 decoder, seed ${seed}` }));
  const json = (name: string, value: unknown) => writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await json('config.json', configJson(vocab.length, seed));
  await json('generation_config.json', { decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 });
  await json('tokenizer.json', tokenizerJson(vocab));
  await json('tokenizer_config.json', {
    tokenizer_class: 'T5Tokenizer',
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    model_max_length: 512,
    clean_up_tokenization_spaces: true,
  });
  await json('special_tokens_map.json', { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' });
  return { dir, vocabSize: vocab.length };
}

function configJson(vocabSize: number, seed: number): Record<string, unknown> {
  return {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    d_model: TINY_T5.dModel,
    d_kv: TINY_T5.dKv,
    d_ff: TINY_T5.dFf,
    num_heads: TINY_T5.numHeads,
    num_layers: TINY_T5.encoderLayers,
    num_decoder_layers: TINY_T5.decoderLayers,
    vocab_size: vocabSize,
    feed_forward_proj: 'relu',
    layer_norm_epsilon: 1e-6,
    relative_attention_num_buckets: 32,
    is_encoder_decoder: true,
    tie_word_embeddings: false,
    decoder_start_token_id: 0,
    eos_token_id: 1,
    pad_token_id: 0,
    // Marks the folder as generated so provenance never presents it as a trained T5.
    clapset_forge: { generator: 'demo/forge/t5.ts', seed, trained: false },
  };
}

/** A real tokenizers-format Unigram tokenizer (Metaspace, T5's "$A </s>" template). */
function tokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const special = (id: number) => ({ id, content: vocab[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0), special(1), special(2)],
    // Lower-casing keeps capitalised tags in the small vocabulary; T5's own tokenizer is cased.
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: 2,
      // Whole words are far likelier than pieces, so known words stay one token.
      vocab: vocab.map((piece, id) => [piece, id < SPECIALS.length ? 0 : piece.startsWith('▁') && piece.length > 1 ? -4 - (id % 7) * 0.1 : -12]),
      byte_fallback: false,
    },
  };
}

// ---- weights ---------------------------------------------------------------------------------

interface AttentionWeights { q: Float32Array; k: Float32Array; v: Float32Array; o: Float32Array }
interface LayerWeights { norms: Float32Array[]; self: AttentionWeights; cross: AttentionWeights | null; ffIn: Float32Array; ffOut: Float32Array }
interface Weights { vocabSize: number; shared: Float32Array; encoder: LayerWeights[]; encoderNorm: Float32Array; decoder: LayerWeights[]; decoderNorm: Float32Array; lmHead: Float32Array; lmBias: Float32Array }

function drawWeights(random: () => number, vocabSize: number): Weights {
  const { dModel, dFf, numHeads, dKv } = TINY_T5;
  const inner = numHeads * dKv;
  const matrix = (rows: number, cols: number, scale: number) => Float32Array.from({ length: rows * cols }, () => random() * scale);
  const norm = () => Float32Array.from({ length: dModel }, () => 1 + 0.1 * random());
  const attention = (): AttentionWeights => ({
    q: matrix(dModel, inner, 1 / Math.sqrt(dModel)),
    k: matrix(dModel, inner, 1 / Math.sqrt(dModel)),
    v: matrix(dModel, inner, 1 / Math.sqrt(dModel)),
    o: matrix(inner, dModel, 1 / Math.sqrt(inner)),
  });
  const layer = (cross: boolean): LayerWeights => ({
    norms: [norm(), norm(), ...(cross ? [norm()] : [])],
    self: attention(),
    cross: cross ? attention() : null,
    ffIn: matrix(dModel, dFf, 1 / Math.sqrt(dModel)),
    ffOut: matrix(dFf, dModel, 1 / Math.sqrt(dFf)),
  });
  const shared = matrix(vocabSize, dModel, 1);
  const encoder = Array.from({ length: TINY_T5.encoderLayers }, () => layer(false));
  const encoderNorm = norm();
  const decoder = Array.from({ length: TINY_T5.decoderLayers }, () => layer(true));
  const decoderNorm = norm();
  // A peaky head (scale 0.6 on unit-RMS states) so beams disagree with greedy now and then.
  const lmHead = matrix(dModel, vocabSize, 0.6);
  const lmBias = new Float32Array(vocabSize);
  lmBias[0] = -30; // never generate <pad>
  lmBias[2] = -30; // nor <unk>
  lmBias[1] = -2; // </s>: unlikely at first, then ramped up by position
  // Sub-word pieces rarer than words, so captions read as words.
  for (let id = SPECIALS.length + WORDS.length; id < vocabSize; id++) lmBias[id] = -2.5;
  return { vocabSize, shared, encoder, encoderNorm, decoder, decoderNorm, lmHead, lmBias };
}

// ---- graphs ----------------------------------------------------------------------------------

function encoderGraph(w: Weights): GraphBuilder {
  const { dModel } = TINY_T5;
  const g = new GraphBuilder('tiny_t5_encoder');
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'encoder_sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const shared = g.initializer('shared.weight', 'float32', [w.vocabSize, dModel], w.shared);
  let x = g.op('Gather', [shared, inputIds], { axis: attr.int(0) });
  const keyMask = paddingMask(g, mask);
  w.encoder.forEach((layer, i) => {
    const prefix = `encoder.block.${i}`;
    const h = rmsNorm(g, x, layer.norms[0] as Float32Array, `${prefix}.norm0`);
    const { q, k, v } = projectHeads(g, h, h, layer.self, `${prefix}.self`);
    x = g.op('Add', [x, attend(g, q, k, v, keyMask, layer.self.o, `${prefix}.self`)]);
    x = g.op('Add', [x, feedForward(g, rmsNorm(g, x, layer.norms[1] as Float32Array, `${prefix}.norm1`), layer, prefix)]);
  });
  g.output('last_hidden_state', 'float32', ['batch_size', 'encoder_sequence_length', dModel], rmsNorm(g, x, w.encoderNorm, 'encoder.final_norm'));
  return g;
}

function decoderGraph(w: Weights, withPast: boolean): GraphBuilder {
  const { dModel, numHeads, dKv } = TINY_T5;
  const g = new GraphBuilder('tiny_t5_decoder_merged');
  const encoderMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const encoderStates = g.input('encoder_hidden_states', 'float32', ['batch_size', 'encoder_sequence_length', dModel]);
  const past = w.decoder.map((_, i) => {
    if (!withPast) return null;
    const name = (part: string) => `past_key_values.${i}.${part}`;
    return {
      selfK: g.input(name('decoder.key'), 'float32', ['batch_size', numHeads, 'past_decoder_sequence_length', dKv]),
      selfV: g.input(name('decoder.value'), 'float32', ['batch_size', numHeads, 'past_decoder_sequence_length', dKv]),
      crossK: g.input(name('encoder.key'), 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]),
      crossV: g.input(name('encoder.value'), 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]),
    };
  });
  const useCache = withPast ? g.input('use_cache_branch', 'bool', [1]) : null;

  const shared = g.initializer('shared.weight', 'float32', [w.vocabSize, dModel], w.shared);
  let x = g.op('Gather', [shared, inputIds], { axis: attr.int(0) });
  const crossMask = paddingMask(g, encoderMask);
  const presents: { name: string; value: string; seq: string }[] = [];
  const causal = causalMask(g, inputIds, past[0]?.selfK ?? null);

  w.decoder.forEach((layer, i) => {
    const prefix = `decoder.block.${i}`;
    const cross = layer.cross as AttentionWeights;
    const layerPast = past[i] ?? null;
    // Self-attention: new keys/values appended to the cached ones (an empty cache on the no-cache branch).
    const h = rmsNorm(g, x, layer.norms[0] as Float32Array, `${prefix}.norm0`);
    const own = projectHeads(g, h, h, layer.self, `${prefix}.self`);
    const selfK = layerPast ? g.op('Concat', [layerPast.selfK, own.k], { axis: attr.int(2) }) : own.k;
    const selfV = layerPast ? g.op('Concat', [layerPast.selfV, own.v], { axis: attr.int(2) }) : own.v;
    x = g.op('Add', [x, attend(g, own.q, selfK, selfV, causal.mask, layer.self.o, `${prefix}.self`)]);
    // Cross-attention: keys/values from the encoder states, or the cached ones on the cache branch.
    const c = rmsNorm(g, x, layer.norms[1] as Float32Array, `${prefix}.norm1`);
    const fresh = projectHeads(g, c, encoderStates, cross, `${prefix}.cross`);
    let crossK = fresh.k;
    let crossV = fresh.v;
    if (layerPast && useCache) {
      const reuse = new GraphBuilder(`${prefix}.reuse_cache`);
      reuse.node('Identity', [layerPast.crossK], [`${prefix}.cached_k`]);
      reuse.node('Identity', [layerPast.crossV], [`${prefix}.cached_v`]);
      reuse.output(`${prefix}.cached_k`, 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]);
      reuse.output(`${prefix}.cached_v`, 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]);
      const compute = new GraphBuilder(`${prefix}.compute_cross`);
      compute.node('Identity', [fresh.k], [`${prefix}.fresh_k`]);
      compute.node('Identity', [fresh.v], [`${prefix}.fresh_v`]);
      compute.output(`${prefix}.fresh_k`, 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]);
      compute.output(`${prefix}.fresh_v`, 'float32', ['batch_size', numHeads, 'encoder_sequence_length_out', dKv]);
      [crossK, crossV] = g.node('If', [useCache], [`${prefix}.cross_k`, `${prefix}.cross_v`], { then_branch: attr.graph(reuse), else_branch: attr.graph(compute) }) as [string, string];
    }
    x = g.op('Add', [x, attend(g, fresh.q, crossK, crossV, crossMask, cross.o, `${prefix}.cross`)]);
    x = g.op('Add', [x, feedForward(g, rmsNorm(g, x, layer.norms[2] as Float32Array, `${prefix}.norm2`), layer, prefix)]);
    presents.push(
      { name: `present.${i}.decoder.key`, value: selfK, seq: 'past_decoder_sequence_length + 1' },
      { name: `present.${i}.decoder.value`, value: selfV, seq: 'past_decoder_sequence_length + 1' },
      { name: `present.${i}.encoder.key`, value: crossK, seq: 'encoder_sequence_length_out' },
      { name: `present.${i}.encoder.value`, value: crossV, seq: 'encoder_sequence_length_out' },
    );
  });
  const final = rmsNorm(g, x, w.decoderNorm, 'decoder.final_norm');
  const head = g.initializer('lm_head.weight', 'float32', [dModel, w.vocabSize], w.lmHead);
  const bias = g.initializer('lm_head.bias', 'float32', [w.vocabSize], w.lmBias);
  // T5 has no absolute positions; this toy adds one signal so that hypotheses end: the </s> logit
  // grows with the position (past + i), giving captions of a few words rather than maxLength runs.
  const eosRamp = new Float32Array(w.vocabSize);
  eosRamp[1] = EOS_PER_POSITION;
  const positions = g.op('Cast', [causal.queryPositions], { to: attr.int(1) });
  const logits = g.op('Add', [g.op('Add', [g.op('MatMul', [final, head]), bias]), g.op('Mul', [positions, g.initializer('lm_head.eos_ramp', 'float32', [w.vocabSize], eosRamp)])]);
  g.output('logits', 'float32', ['batch_size', 'decoder_sequence_length', w.vocabSize], logits);
  if (withPast) for (const p of presents) g.output(p.name, 'float32', ['batch_size', numHeads, p.seq, dKv], p.value);
  return g;
}

/** x / rms(x) * weight, over the last axis. */
function rmsNorm(g: GraphBuilder, x: string, weight: Float32Array, name: string): string {
  const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
  const rms = g.op('Sqrt', [g.op('Add', [meanSquare, g.float32s([1e-6], [])])]);
  return g.op('Mul', [g.op('Div', [x, rms]), g.initializer(`${name}.weight`, 'float32', [weight.length], weight)]);
}

/** Q from `queries`, K and V from `keys`, each as [batch, heads, seq, d_kv]. */
function projectHeads(g: GraphBuilder, queries: string, keys: string, w: AttentionWeights, name: string): { q: string; k: string; v: string } {
  const { dModel, numHeads, dKv } = TINY_T5;
  const split = g.int64s([0, -1, numHeads, dKv]);
  const heads = (input: string, weight: Float32Array, part: string) => {
    const projected = g.op('MatMul', [input, g.initializer(`${name}.${part}.weight`, 'float32', [dModel, numHeads * dKv], weight)]);
    return g.op('Transpose', [g.op('Reshape', [projected, split])], { perm: attr.ints([0, 2, 1, 3]) });
  };
  return { q: heads(queries, w.q, 'q'), k: heads(keys, w.k, 'k'), v: heads(keys, w.v, 'v') };
}

/** softmax(q·kᵀ + mask)·v, heads merged and projected back to d_model (T5 does not scale by √d). */
function attend(g: GraphBuilder, q: string, k: string, v: string, additiveMask: string, outWeight: Float32Array, name: string): string {
  const { dModel, numHeads, dKv } = TINY_T5;
  const scores = g.op('Add', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) })]), additiveMask]);
  const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: attr.int(-1) }), v]);
  const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: attr.ints([0, 2, 1, 3]) }), g.int64s([0, -1, numHeads * dKv])]);
  return g.op('MatMul', [merged, g.initializer(`${name}.o.weight`, 'float32', [numHeads * dKv, dModel], outWeight)]);
}

function feedForward(g: GraphBuilder, x: string, layer: LayerWeights, name: string): string {
  const { dModel, dFf } = TINY_T5;
  const inner = g.op('Relu', [g.op('MatMul', [x, g.initializer(`${name}.ff.wi`, 'float32', [dModel, dFf], layer.ffIn)])]);
  return g.op('MatMul', [inner, g.initializer(`${name}.ff.wo`, 'float32', [dFf, dModel], layer.ffOut)]);
}

/** int64 [batch, keys] 1/0 mask → additive float [batch, 1, 1, keys] (0 or -1e9). */
function paddingMask(g: GraphBuilder, mask: string): string {
  const keep = g.op('Cast', [mask], { to: attr.int(1) });
  const additive = g.op('Mul', [g.op('Sub', [g.float32s([1], []), keep]), g.float32s([-1e9], [])]);
  return g.op('Unsqueeze', [additive, g.int64s([1, 2])]);
}

interface CausalMask {
  /** Additive [queries, keys] mask. */
  mask: string;
  /** int64 [queries, 1]: each query's absolute position (past length + i). */
  queryPositions: string;
}

/** Query i (absolute position past + i) sees keys 0..past + i; past is 0 without a cache. */
function causalMask(g: GraphBuilder, inputIds: string, pastKey: string | null): CausalMask {
  const dim = (value: string, axis: number) => g.op('Gather', [g.op('Shape', [value]), g.int64s([axis], true)], { axis: attr.int(0) });
  const queries = dim(inputIds, 1);
  const pastLength = pastKey === null ? g.int64s([0], true) : dim(pastKey, 2);
  const keys = g.op('Add', [pastLength, queries]);
  const one = g.int64s([1], true);
  const queryPositions = g.op('Unsqueeze', [g.op('Range', [pastLength, keys, one]), g.int64s([1])]);
  const keyPositions = g.op('Range', [g.int64s([0], true), keys, one]);
  const visible = g.op('LessOrEqual', [keyPositions, queryPositions]);
  return { mask: g.op('Where', [visible, g.float32s([0], []), g.float32s([-1e9], [])]), queryPositions };
}


if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { seed: { type: 'string', default: '7' }, 'no-past': { type: 'boolean', default: false } } });
  const dir = positionals[0];
  if (dir === undefined) {
    console.error('usage: t5.ts <dir> [--seed 7] [--no-past]');
    process.exit(2);
  }
  const out = await forgeTinyT5(dir, { seed: Number(values.seed), pastKeyValues: !values['no-past'] });
  console.log(JSON.stringify(out));
}
