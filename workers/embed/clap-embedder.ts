import * as ort from 'onnxruntime-node';
import type { DecodePcmOptions } from '../../infra/audio/decode-pcm.ts';
import { log } from '../../infra/log.ts';
import { Batcher, type BatcherStats } from '../batching/batcher.ts';
import type { Device } from '../../infra/models/devices.ts';
import type { ModelDtype } from '../../infra/models/model-dir.ts';
import { createSession } from '../../infra/models/session.ts';
import { type FolderTokenizer, loadFolderTokenizer, padRows } from '../../infra/models/tokenizer.ts';
import { type ClapModelInfo, readClapModel } from './clap-model.ts';
import { FeaturePool } from './feature-pool.ts';
import { type FileFeatures, featuresForFile } from './features-file.ts';
import { type ClipFeatureOptions, type ClipFeatures, clipFeatures } from './fusion.ts';
import { CLAP_AUDIO } from './mel-config.ts';
import { l2NormalizeRows, rowsOf } from './vectors.ts';

export interface ClapEmbedderOptions {
  /** Execution provider, chosen exactly (infra/models/session.ts: no silent CPU fallback). Default cpu. */
  device?: Device;
  /** Intra-op threads for the CPU provider. */
  threads?: number;
  /** Which export of the folder: fp32 `audio_model.onnx`, q8 `audio_model_quantized.onnx`, … */
  dtype?: ModelDtype;
  /**
   * Clips per audio session run (a fused clip is 4 × 1001 × 64 floats ≈ 1 MB). Default 8. Runs are
   * assembled across every job using this embedder at once (workers/batching/batcher.ts).
   */
  audioBatchSize?: number;
  /**
   * Captions per text session run. Default 64. A text graph without `attention_mask` (the published
   * CLAP exports) only ever gets captions of one token length per run, so no padding reaches it.
   */
  textBatchSize?: number;
  /** How long a partial batch waits for other jobs' requests (ms, default 10; see Batcher). */
  lingerMs?: number;
  /** Worker threads computing features for `featuresOfFile` (0, the default: in this thread). */
  featureThreads?: number;
}

/**
 * One chunk job's use of a shared embedder: its audio and text requests join the batches of the
 * other jobs in flight, and the batcher knows when this job has nothing more to send.
 */
export interface ClapJob {
  embedAudio(clips: readonly ClipFeatures[]): Promise<Float32Array[]>;
  embedText(texts: readonly string[]): Promise<Float32Array[]>;
  embedTokens(encoded: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** The job submits nothing more (idempotent; call it in a `finally`). */
  done(): void;
}

/**
 * CLAP audio and text embeddings from a model folder in the published ONNX layout, fully offline:
 * ONNX Runtime sessions on the two graphs, the folder's tokenizer (infra/models/tokenizer.ts).
 * Outputs are L2-normalised here:
 * the published exports return the raw projection, as HF's `Clap*ModelWithProjection` does.
 */
export class ClapEmbedder {
  private constructor(
    readonly model: ClapModelInfo,
    readonly dim: number,
    private readonly audio: ort.InferenceSession,
    private readonly text: ort.InferenceSession,
    private readonly tokenizer: FolderTokenizer,
    /** Whether the text graph declares `attention_mask`; without it padding would be read as text. */
    private readonly textTakesMask: boolean,
    options: Required<Pick<ClapEmbedderOptions, 'audioBatchSize' | 'textBatchSize' | 'lingerMs'>>,
    private readonly pool: FeaturePool | null,
  ) {
    const lingerMs = options.lingerMs;
    this.audioBatcher = new Batcher({ name: 'clap-audio', maxBatch: options.audioBatchSize, lingerMs, run: (clips: ClipFeatures[]) => this.runAudio(clips) });
    this.textBatcher = new Batcher({ name: 'clap-text', maxBatch: options.textBatchSize, lingerMs, run: (ids: number[][]) => this.runText(ids) });
  }

  /** Audio runs, shared by every job in this process. */
  private readonly audioBatcher: Batcher<ClipFeatures, Float32Array>;
  /** Text runs: one token length per run when the graph takes no mask. */
  private readonly textBatcher: Batcher<number[], Float32Array>;

  static async load(dir: string, options: ClapEmbedderOptions = {}): Promise<ClapEmbedder> {
    const model = await readClapModel(dir, options.dtype === undefined ? {} : { dtype: options.dtype });
    const sessionOptions = { device: options.device ?? 'cpu', ...(options.threads === undefined ? {} : { threads: options.threads }) };
    const tokenizer = await loadFolderTokenizer(dir, { maxLength: model.maxTextLength });
    const audio = await createSession(model.audioModel, sessionOptions);
    const text = await createSession(model.textModel, sessionOptions).catch(async (error: unknown) => {
      await audio.release();
      throw error;
    });
    try {
      const dim = checkSessions(model, audio, text);
      const textTakesMask = text.inputNames.includes('attention_mask');
      if (!textTakesMask) {
        log.info('CLAP text graph declares no attention_mask (as the published exports): captions are batched by equal token length so no padding reaches it', { model: model.textModel });
      }
      const batching = { audioBatchSize: options.audioBatchSize ?? 8, textBatchSize: options.textBatchSize ?? 64, lingerMs: options.lingerMs ?? 10 };
      const pool = options.featureThreads ? new FeaturePool(options.featureThreads) : null;
      return new ClapEmbedder(model, dim, audio, text, tokenizer, textTakesMask, batching, pool);
    } catch (error) {
      await Promise.all([audio.release(), text.release()]);
      throw error;
    }
  }

  /** Feature settings this checkpoint expects, with a per-clip seed (e.g. the sample key). */
  featureOptions(seed: number | string): ClipFeatureOptions {
    return { truncation: this.model.truncation, filterBank: this.model.filterBank, seed };
  }

  /** Features of one 48 kHz mono clip for this checkpoint. */
  features(pcm: Float32Array, seed: number | string): ClipFeatures {
    return clipFeatures(pcm, this.featureOptions(seed));
  }

  /** Features of an audio file (a staged FLAC) for this checkpoint: ffmpeg decode to 48 kHz mono, then `features`. */
  async featuresOfFile(path: string, seed: number | string, options: Pick<DecodePcmOptions, 'ffmpegPath' | 'signal' | 'timeoutMs'> = {}): Promise<FileFeatures> {
    return featuresForFile(path, { ...this.featureOptions(seed), ...options }, this.pool ? (pcm, o) => this.pool!.features(pcm, o) : undefined);
  }

  /** `features`, on the embedder's feature threads when it has them (`featureThreads`), else here. */
  async featuresOffThread(pcm: Float32Array, seed: number | string): Promise<ClipFeatures> {
    return this.pool ? this.pool.features(pcm, this.featureOptions(seed)) : this.features(pcm, seed);
  }

  /**
   * Declares a chunk job that will embed audio and text once each: while it computes features, other
   * jobs' partial batches wait up to the linger for it; once it has submitted, they no longer do.
   */
  beginJob(): ClapJob {
    const leaveAudio = this.audioBatcher.enter();
    const leaveText = this.textBatcher.enter();
    // A job stays declared until its request is answered: "every declared job is waiting" must not
    // count a job whose request is still pending as gone.
    const once = <T>(submit: () => Promise<T>, leave: () => void): Promise<T> => {
      try {
        return submit().finally(leave);
      } catch (error) {
        leave();
        throw error;
      }
    };
    return {
      embedAudio: (clips) => once(() => this.embedAudio(clips), leaveAudio),
      embedText: (texts) => once(() => this.embedText(texts), leaveText),
      embedTokens: (encoded) => once(() => this.embedTokens(encoded), leaveText),
      done: () => {
        leaveAudio();
        leaveText();
      },
    };
  }

  /** What the batchers did so far (runs, items, runs merged across jobs, retries). */
  batchStats(): { audio: BatcherStats; text: BatcherStats } {
    return { audio: structuredClone(this.audioBatcher.stats), text: structuredClone(this.textBatcher.stats) };
  }

  /** Unit-norm audio embeddings, one per clip, in order. */
  async embedAudio(clips: readonly ClipFeatures[]): Promise<Float32Array[]> {
    const views = this.model.truncation === 'fusion' ? 4 : 1;
    for (const [i, clip] of clips.entries()) {
      const [channels, frames, mels] = clip.shape;
      if (channels !== views || frames !== CLAP_AUDIO.chunkFrames || mels !== CLAP_AUDIO.melBins) {
        throw new Error(`clip ${i}: features of shape (${clip.shape.join(', ')}), this checkpoint takes (${views}, ${CLAP_AUDIO.chunkFrames}, ${CLAP_AUDIO.melBins}) — compute them with featureOptions()`);
      }
    }
    return this.audioBatcher.submit(clips);
  }

  /** One audio session run (at most audioBatchSize clips, from any jobs). */
  private async runAudio(batch: readonly ClipFeatures[]): Promise<Float32Array[]> {
    const views = this.model.truncation === 'fusion' ? 4 : 1;
    const size = views * CLAP_AUDIO.chunkFrames * CLAP_AUDIO.melBins;
    const data = new Float32Array(batch.length * size);
    batch.forEach((clip, i) => {
      if (clip.data.length !== size) throw new Error(`audio features of ${clip.data.length} values, expected ${size} (${views} × ${CLAP_AUDIO.chunkFrames} × ${CLAP_AUDIO.melBins})`);
      data.set(clip.data, i * size);
    });
    const feeds: Record<string, ort.Tensor> = { input_features: new ort.Tensor('float32', data, [batch.length, views, CLAP_AUDIO.chunkFrames, CLAP_AUDIO.melBins]) };
    // Fused exports take HF's `is_longer` (fusion applies only to clips longer than the window).
    if (this.audio.inputNames.includes('is_longer')) feeds.is_longer = new ort.Tensor('bool', Uint8Array.from(batch, (clip) => (clip.longer ? 1 : 0)), [batch.length, 1]);
    return this.run(this.audio, feeds, 'audio_embeds', batch.length);
  }

  /**
   * Unit-norm text embeddings, one per caption, in order (RoBERTa tokens, at most 77 with <s> and
   * </s>). With an `attention_mask` input, runs of `textBatchSize` captions are padded to their
   * longest and masked. Without one (the published exports), padding would change every shorter
   * caption's embedding, so captions are grouped by token length and each run holds one length: a
   * caption's embedding never depends on the captions beside it.
   */
  async embedText(texts: readonly string[]): Promise<Float32Array[]> {
    return this.embedTokens(texts.map((text) => this.encode(text)));
  }

  /**
   * Unit-norm text embeddings of captions already tokenised (`encode`), in order; what `embedText`
   * runs. Runs are shared with other jobs' captions, keyed by token length when the graph takes no
   * mask (so every run holds one length and nothing is padded).
   */
  async embedTokens(encoded: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.textBatcher.submit(
      encoded.map((ids) => [...ids]),
      this.textTakesMask ? () => 0 : (ids) => ids.length,
    );
  }

  /** One text session run (at most textBatchSize captions; one token length unless the graph takes a mask). */
  private async runText(rows: readonly number[][]): Promise<Float32Array[]> {
    const { ids, mask, length } = padRows(rows, this.tokenizer.padId);
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [rows.length, length]) };
    if (this.textTakesMask) feeds.attention_mask = new ort.Tensor('int64', mask, [rows.length, length]);
    return this.run(this.text, feeds, 'text_embeds', rows.length);
  }

  /** A caption's token ids: `<s> … </s>`, truncated to 77 keeping the closing `</s>` (LAION-CLAP's budget). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  async close(): Promise<void> {
    await Promise.all([this.audio.release(), this.text.release(), this.pool?.close()]);
  }

  private async run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, output: string, rows: number): Promise<Float32Array[]> {
    const result = await session.run(feeds);
    const tensor = result[output];
    if (!tensor || tensor.type !== 'float32' || tensor.dims.length !== 2 || tensor.dims[0] !== rows || tensor.dims[1] !== this.dim) {
      throw new Error(`${output}: expected float32 [${rows}, ${this.dim}], got ${tensor ? `${tensor.type} [${tensor.dims.join(', ')}]` : 'no such output'}`);
    }
    // Copy out of ORT's buffer before normalising, so rows own their memory.
    const data = l2NormalizeRows(Float32Array.from(tensor.data as Float32Array), this.dim);
    for (const value of Object.values(result)) value.dispose();
    return rowsOf(data, this.dim);
  }
}

/** The graphs must have the published names and agree on the embedding size; returns it. */
function checkSessions(model: ClapModelInfo, audio: ort.InferenceSession, text: ort.InferenceSession): number {
  const expect = (session: ort.InferenceSession, what: string, inputs: string[], output: string): number => {
    for (const name of inputs) if (!session.inputNames.includes(name)) throw new Error(`${what}: no input ${name} (has ${session.inputNames.join(', ')})`);
    if (!session.outputNames.includes(output)) throw new Error(`${what}: no output ${output} (has ${session.outputNames.join(', ')})`);
    const meta = session.outputMetadata.find((m) => m.name === output);
    const size = meta?.isTensor ? meta.shape[meta.shape.length - 1] : undefined;
    return typeof size === 'number' ? size : -1;
  };
  const audioDim = expect(audio, model.audioModel, ['input_features'], 'audio_embeds');
  // transformers.js' fp16 exports keep float32 inputs and outputs (keep_io_types); one that does not is refused here, not mid-crawl.
  for (const [session, path, name] of [[audio, model.audioModel, 'input_features'], [audio, model.audioModel, 'audio_embeds'], [text, model.textModel, 'text_embeds']] as const) {
    const meta = [...session.inputMetadata, ...session.outputMetadata].find((m) => m.name === name);
    if (meta?.isTensor && meta.type !== 'float32') throw new Error(`${path}: ${name} is ${meta.type}; clapset feeds and reads float32 (export fp16 graphs with keep_io_types=True, as transformers.js' quantize.py does)`);
  }
  const textDim = expect(text, model.textModel, ['input_ids'], 'text_embeds');
  const unknown = text.inputNames.filter((name) => name !== 'input_ids' && name !== 'attention_mask');
  if (unknown.length > 0) throw new Error(`${model.textModel}: inputs ${unknown.join(', ')} are not ones a CLAP text export takes (input_ids, optionally attention_mask)`);
  const views = model.truncation === 'fusion' ? 4 : 1;
  const input = audio.inputMetadata.find((m) => m.name === 'input_features');
  const channels = input?.isTensor ? input.shape[1] : undefined;
  if (typeof channels === 'number' && channels !== views) {
    throw new Error(`${model.audioModel} takes ${channels} view(s) per clip but truncation "${model.truncation}" makes ${views}`);
  }
  if (audioDim > 0 && textDim > 0 && audioDim !== textDim) throw new Error(`audio embeddings have ${audioDim} dimensions, text embeddings ${textDim}`);
  const dim = audioDim > 0 ? audioDim : textDim > 0 ? textDim : 512;
  return dim;
}
