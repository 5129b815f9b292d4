import * as ort from 'onnxruntime-node';
import type { DecodePcmOptions } from '../../infra/audio/decode-pcm.ts';
import { log } from '../../infra/log.ts';
import type { Device } from '../../infra/models/devices.ts';
import type { ModelDtype } from '../../infra/models/model-dir.ts';
import { createSession } from '../../infra/models/session.ts';
import { type FolderTokenizer, loadFolderTokenizer, padRows } from '../../infra/models/tokenizer.ts';
import { type ClapModelInfo, readClapModel } from './clap-model.ts';
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
  /** Clips per audio session run (a fused clip is 4 × 1001 × 64 floats ≈ 1 MB). Default 8. */
  audioBatchSize?: number;
  /**
   * Captions per text session run. Default 64. A text graph without `attention_mask` (the published
   * CLAP exports) only ever gets captions of one token length per run, so no padding reaches it.
   */
  textBatchSize?: number;
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
    private readonly options: Required<Pick<ClapEmbedderOptions, 'audioBatchSize' | 'textBatchSize'>>,
  ) {}

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
      return new ClapEmbedder(model, dim, audio, text, tokenizer, textTakesMask, { audioBatchSize: options.audioBatchSize ?? 8, textBatchSize: options.textBatchSize ?? 64 });
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
    return featuresForFile(path, { ...this.featureOptions(seed), ...options });
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
    const out: Float32Array[] = [];
    const wantsLonger = this.audio.inputNames.includes('is_longer');
    for (let start = 0; start < clips.length; start += this.options.audioBatchSize) {
      const batch = clips.slice(start, start + this.options.audioBatchSize);
      const size = views * CLAP_AUDIO.chunkFrames * CLAP_AUDIO.melBins;
      const data = new Float32Array(batch.length * size);
      batch.forEach((clip, i) => data.set(clip.data, i * size));
      const feeds: Record<string, ort.Tensor> = { input_features: new ort.Tensor('float32', data, [batch.length, views, CLAP_AUDIO.chunkFrames, CLAP_AUDIO.melBins]) };
      // Fused exports take HF's `is_longer` (fusion applies only to clips longer than the window).
      if (wantsLonger) feeds.is_longer = new ort.Tensor('bool', Uint8Array.from(batch, (clip) => (clip.longer ? 1 : 0)), [batch.length, 1]);
      out.push(...(await this.run(this.audio, feeds, 'audio_embeds', batch.length)));
    }
    return out;
  }

  /**
   * Unit-norm text embeddings, one per caption, in order (RoBERTa tokens, at most 77 with <s> and
   * </s>). With an `attention_mask` input, runs of `textBatchSize` captions are padded to their
   * longest and masked. Without one (the published exports), padding would change every shorter
   * caption's embedding, so captions are grouped by token length and each run holds one length: a
   * caption's embedding never depends on the captions beside it.
   */
  async embedText(texts: readonly string[]): Promise<Float32Array[]> {
    const encoded = texts.map((text) => this.encode(text));
    const groups: number[][] = [];
    if (this.textTakesMask) {
      for (let start = 0; start < encoded.length; start += this.options.textBatchSize) groups.push(encoded.slice(start, start + this.options.textBatchSize).map((_, i) => start + i));
    } else {
      const byLength = new Map<number, number[]>();
      encoded.forEach((ids, i) => byLength.set(ids.length, [...(byLength.get(ids.length) ?? []), i]));
      for (const indices of byLength.values()) {
        for (let start = 0; start < indices.length; start += this.options.textBatchSize) groups.push(indices.slice(start, start + this.options.textBatchSize));
      }
    }
    const out = new Array<Float32Array>(texts.length);
    for (const group of groups) {
      const { ids, mask, length } = padRows(group.map((i) => encoded[i]!), this.tokenizer.padId);
      const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [group.length, length]) };
      if (this.textTakesMask) feeds.attention_mask = new ort.Tensor('int64', mask, [group.length, length]);
      const rows = await this.run(this.text, feeds, 'text_embeds', group.length);
      group.forEach((index, r) => (out[index] = rows[r]!));
    }
    return out;
  }

  /** A caption's token ids: `<s> … </s>`, truncated to 77 keeping the closing `</s>` (LAION-CLAP's budget). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  async close(): Promise<void> {
    await Promise.all([this.audio.release(), this.text.release()]);
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
