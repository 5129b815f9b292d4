/**
 * A T5 text2text export (onnx/encoder_model*.onnx + onnx/decoder_model_merged*.onnx, tokenizer.json)
 * run with onnxruntime-node sessions on one device, offline. The tokenizer is the folder's
 * tokenizer.json (infra/models/tokenizer.ts, what transformers.js' AutoTokenizer wraps); the sessions
 * are ours so that the device is exactly the one asked for and beam search can batch every beam in
 * one decoder run.
 *
 * `stepper()` adapts the decoder to beam search's `StepFunction`. A merged decoder with
 * past_key_values inputs keeps a key/value cache per decoder prefix: each call looks up the cache of
 * every row's parent prefix (whatever beam it came from), so beams can be reordered freely, and runs
 * only the newest token (use_cache_branch = true). A decoder without cache inputs recomputes the
 * whole prefix each step (slower, same logits).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { StepFunction, StepRow } from './beam-search.ts';
import type { Device } from '../../infra/models/devices.ts';
import { seq2seqFiles, type ModelDtype } from '../../infra/models/model-dir.ts';
import { createSession } from '../../infra/models/session.ts';
import { type FolderTokenizer, loadFolderTokenizer, padRows } from '../../infra/models/tokenizer.ts';

export interface T5LoadOptions {
  device: Device;
  dtype?: ModelDtype;
  /** CPU intra-op threads (ONNX Runtime's default when absent). */
  threads?: number;
  /** Use the decoder's key/value cache when it has one (default true; false is for tests and benchmarks). */
  useCache?: boolean;
}

/** Token ids generation needs, from generation_config.json, else config.json, else T5's (0, 1, 0). */
export interface T5SpecialTokens {
  decoderStartTokenId: number;
  eosTokenId: number;
  padTokenId: number;
}

export interface EncodedBatch {
  size: number;
  hidden: ort.Tensor;
  mask: ort.Tensor;
}

/** A cache input of the merged decoder, [batch, heads, sequence, d_kv]. */
interface PastInput {
  name: string;
  type: string;
  heads: number;
  dKv: number;
}

type TypedArray = Float32Array | Uint16Array | BigInt64Array | Uint8Array | Int32Array;
type TypedArrayConstructor = new (length: number) => TypedArray;

export class T5Model {
  private constructor(
    readonly dir: string,
    readonly device: Device,
    readonly dtype: ModelDtype,
    readonly config: Readonly<Record<string, unknown>>,
    readonly special: T5SpecialTokens,
    private readonly tokenizer: FolderTokenizer,
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly useCache: boolean,
  ) {}

  static async load(dir: string, options: T5LoadOptions): Promise<T5Model> {
    const dtype = options.dtype ?? 'fp32';
    const files = await seq2seqFiles(dir, dtype);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (config.is_encoder_decoder === false) throw new Error(`${dir}: config.json says this is not an encoder–decoder model`);
    const generation = JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
    const tokenizer = await loadFolderTokenizer(dir);
    const sessionOptions = { device: options.device, ...(options.threads === undefined ? {} : { threads: options.threads }) };
    const encoder = await createSession(files.encoder, sessionOptions);
    const decoder = await createSession(files.decoder, sessionOptions).catch(async (error: unknown) => {
      await encoder.release();
      throw error;
    });
    const model = new T5Model(dir, options.device, dtype, config, specialTokens(config, generation), tokenizer, encoder, decoder, options.useCache ?? true);
    model.checkSignature();
    return model;
  }

  /** Whether decoding runs with the key/value cache. */
  get cached(): boolean {
    return this.useCache && this.pastInputs().length > 0;
  }

  /** Tokenises and encodes a batch of prompts (padded to the longest, masked). */
  async encode(prompts: readonly string[]): Promise<EncodedBatch> {
    const { ids, mask, length } = padRows(prompts.map((prompt) => this.tokenizer.encode(prompt)), this.tokenizer.padId);
    const idsTensor = new ort.Tensor('int64', ids, [prompts.length, length]);
    const maskTensor = new ort.Tensor('int64', mask, [prompts.length, length]);
    const out = await this.encoder.run({ input_ids: idsTensor, attention_mask: maskTensor });
    const hidden = out.last_hidden_state;
    if (!hidden) throw new Error(`${this.dir}: the encoder has no last_hidden_state output`);
    return { size: prompts.length, hidden, mask: maskTensor };
  }

  decode(tokens: readonly number[]): string {
    return this.tokenizer.decode(tokens);
  }

  /** A beam-search step function over one encoded batch (rows name their source by batch index). */
  stepper(encoded: EncodedBatch): StepFunction {
    const pastInputs = this.pastInputs();
    const cached = this.cached;
    const decoderPast = pastInputs.filter((meta) => meta.name.includes('.decoder.'));
    const encoderPast = pastInputs.filter((meta) => !meta.name.includes('.decoder.'));
    // prefix key → each decoder past input's slice for that row; source → each encoder past input's slice.
    let selfCache = new Map<string, TypedArray[]>();
    const crossCache = new Map<number, TypedArray[]>();
    const [, encoderLength = 0, hiddenSize = 0] = encoded.hidden.dims;

    return async (rows: readonly StepRow[]) => {
      if (rows.length === 0) return [];
      const length = (rows[0] as StepRow).tokens.length;
      const sources = rows.map((row) => row.source);
      const feeds: Record<string, ort.Tensor> = {
        encoder_hidden_states: gatherRows(encoded.hidden, sources, [rows.length, encoderLength, hiddenSize]),
        encoder_attention_mask: gatherRows(encoded.mask, sources, [rows.length, encoderLength]),
      };
      const parents = rows.map((row) => selfCache.get(prefixKey(row.source, row.tokens.slice(0, -1))));
      const useCache =
        cached && length > 1 && rows.every((row) => row.tokens.length === length) && parents.every((p) => p !== undefined) && sources.every((s) => crossCache.has(s));
      const inputLength = useCache ? 1 : length;
      const ids = new BigInt64Array(rows.length * inputLength);
      rows.forEach((row, r) => {
        const tokens = useCache ? row.tokens.slice(-1) : row.tokens;
        tokens.forEach((token, i) => (ids[r * inputLength + i] = BigInt(token)));
      });
      feeds.input_ids = new ort.Tensor('int64', ids, [rows.length, inputLength]);
      if (pastInputs.length > 0) {
        if (useCache) {
          decoderPast.forEach((meta, i) => (feeds[meta.name] = concatRows(parents.map((p) => (p as TypedArray[])[i] as TypedArray), pastDims(meta, rows.length, length - 1), meta.type)));
          encoderPast.forEach((meta, i) => (feeds[meta.name] = concatRows(sources.map((s) => (crossCache.get(s) as TypedArray[])[i] as TypedArray), pastDims(meta, rows.length, encoderLength), meta.type)));
        } else {
          for (const meta of pastInputs) feeds[meta.name] = emptyPast(meta, rows.length);
        }
      }
      if (this.decoder.inputNames.includes('use_cache_branch')) feeds.use_cache_branch = new ort.Tensor('bool', [useCache], [1]);

      const out = await this.decoder.run(feeds);
      const logits = out.logits;
      if (!logits || logits.type !== 'float32') throw new Error(`${this.dir}: decoder logits are ${logits?.type ?? 'missing'}; only float32-output exports (fp32, q8, int8, uint8, q4, bnb4) are supported`);
      const vocab = logits.dims[2] as number;
      const data = logits.data as Float32Array;
      const result = rows.map((_, r) => data.subarray((r * inputLength + inputLength - 1) * vocab, (r * inputLength + inputLength) * vocab));

      if (cached) {
        const next = new Map<string, TypedArray[]>();
        const presents = decoderPast.map((meta) => out[meta.name.replace('past_key_values', 'present')]);
        rows.forEach((row, r) => next.set(prefixKey(row.source, row.tokens), presents.map((tensor) => rowSlice(tensor, r))));
        selfCache = next; // only the newest prefixes can be parents next time
        if (!useCache) {
          // The encoder keys/values of the no-cache branch are reused for the rest of this batch
          // (optimum's cache branch returns placeholders for them, as transformers.js knows).
          const crossOut = encoderPast.map((meta) => out[meta.name.replace('past_key_values', 'present')]);
          rows.forEach((row, r) => {
            if (!crossCache.has(row.source)) crossCache.set(row.source, crossOut.map((tensor) => rowSlice(tensor, r)));
          });
        }
      }
      return result;
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }

  private pastInputs(): PastInput[] {
    const heads = typeof this.config.num_heads === 'number' ? this.config.num_heads : null;
    const dKv = typeof this.config.d_kv === 'number' ? this.config.d_kv : null;
    return this.decoder.inputMetadata
      .filter((meta): meta is ort.InferenceSession.TensorValueMetadata => meta.name.startsWith('past_key_values.') && meta.isTensor)
      .map((meta) => {
        // [batch, heads, sequence, d_kv]: fixed axes from the export, else from config.json.
        const fixedHeads = typeof meta.shape[1] === 'number' ? meta.shape[1] : heads;
        const fixedDKv = typeof meta.shape[3] === 'number' ? meta.shape[3] : dKv;
        if (fixedHeads === null || fixedDKv === null) throw new Error(`${this.dir}: cannot size the cache input ${meta.name} (shape ${JSON.stringify(meta.shape)}, no num_heads/d_kv in config.json)`);
        return { name: meta.name, type: meta.type, heads: fixedHeads, dKv: fixedDKv };
      });
  }

  /** Fails at load time, not mid-run, when the export does not have the expected interface. */
  private checkSignature(): void {
    const need = (session: ort.InferenceSession, names: readonly string[], what: string, list: readonly string[]) => {
      const missing = names.filter((name) => !list.includes(name));
      if (missing.length > 0) throw new Error(`${this.dir}: ${what} lacks ${missing.join(', ')} (has ${list.join(', ')})`);
      return session;
    };
    need(this.encoder, ['input_ids', 'attention_mask'], 'encoder inputs', this.encoder.inputNames);
    need(this.encoder, ['last_hidden_state'], 'encoder outputs', this.encoder.outputNames);
    need(this.decoder, ['input_ids', 'encoder_hidden_states', 'encoder_attention_mask'], 'decoder inputs', this.decoder.inputNames);
    need(this.decoder, ['logits', ...this.pastInputs().map((meta) => meta.name.replace('past_key_values', 'present'))], 'decoder outputs', this.decoder.outputNames);
  }
}

function specialTokens(config: Record<string, unknown>, generation: Record<string, unknown>): T5SpecialTokens {
  const pick = (name: string, fallback: number): number => {
    const value = generation[name] ?? config[name];
    const id = Array.isArray(value) ? value[0] : value;
    return typeof id === 'number' && Number.isInteger(id) ? id : fallback;
  };
  return { decoderStartTokenId: pick('decoder_start_token_id', 0), eosTokenId: pick('eos_token_id', 1), padTokenId: pick('pad_token_id', 0) };
}

function prefixKey(source: number, tokens: readonly number[]): string {
  return `${source}:${tokens.join(',')}`;
}

const CONSTRUCTORS: Record<string, TypedArrayConstructor> = { float32: Float32Array, float16: Uint16Array, int64: BigInt64Array, bool: Uint8Array, int32: Int32Array };

function constructorFor(type: string): TypedArrayConstructor {
  const ctor = CONSTRUCTORS[type];
  if (!ctor) throw new Error(`unsupported tensor type ${type}`);
  return ctor;
}

/** Row `r` (first axis) of a tensor, as a view. */
function rowSlice(tensor: ort.Tensor | undefined, r: number): TypedArray {
  if (!tensor) throw new Error('decoder output missing for the key/value cache');
  const data = tensor.data as TypedArray;
  const rowSize = data.length / (tensor.dims[0] as number);
  return data.subarray(r * rowSize, (r + 1) * rowSize);
}

/** A tensor whose rows are the given rows of `source` (first axis), as a copy. */
function gatherRows(source: ort.Tensor, rows: readonly number[], dims: readonly number[]): ort.Tensor {
  return concatRows(rows.map((r) => rowSlice(source, r)), dims, source.type);
}

function concatRows(parts: readonly TypedArray[], dims: readonly number[], type: string): ort.Tensor {
  const rowSize = parts[0]?.length ?? 0;
  const data = new (constructorFor(type))(rowSize * parts.length);
  parts.forEach((part, r) => {
    if (part.length !== rowSize) throw new Error(`cache rows differ in size (${part.length} vs ${rowSize})`);
    (data as unknown as { set(values: ArrayLike<unknown>, offset: number): void }).set(part as ArrayLike<unknown>, r * rowSize);
  });
  return new ort.Tensor(type as 'float32', data as Float32Array, [...dims]);
}

function pastDims(input: PastInput, batch: number, length: number): number[] {
  return [batch, input.heads, length, input.dKv];
}

/** The empty cache the no-cache branch is fed (sequence axis 0). */
function emptyPast(input: PastInput, batch: number): ort.Tensor {
  return new ort.Tensor(input.type as 'float32', new (constructorFor(input.type))(0) as Float32Array, pastDims(input, batch, 0));
}
