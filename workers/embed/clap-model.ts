import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DTYPE_SUFFIX, type ModelDtype } from '../../infra/models/model-dir.ts';
import { type FilterBankKind, type Truncation, CLAP_AUDIO } from './mel-config.ts';

/**
 * What a CLAP folder (published layout: config.json, preprocessor_config.json, tokenizer.json,
 * onnx/{audio,text}_model*.onnx) says about how to feed it.
 */
export interface ClapModelInfo {
  dir: string;
  /** `audio_config.enable_fusion`: the checkpoint takes 4 views (+ is_longer). */
  fused: boolean;
  /** preprocessor_config `truncation` (fused checkpoints ship "fusion", unfused "rand_trunc"). */
  truncation: Truncation;
  /** HTK filters for fused checkpoints (torchaudio path), Slaney for unfused (librosa/torchlibrosa path). */
  filterBank: FilterBankKind;
  audioModel: string;
  textModel: string;
  /** Token budget of one caption, LAION-CLAP's (RoBERTa, max_length 77). */
  maxTextLength: number;
}

/** Checks a folder and reads its settings; errors name the file and the value that is wrong. */
export async function readClapModel(dir: string, options: { dtype?: ModelDtype } = {}): Promise<ClapModelInfo> {
  const suffix = DTYPE_SUFFIX[options.dtype ?? 'fp32'];
  const audioModel = join(dir, 'onnx', `audio_model${suffix}.onnx`);
  const textModel = join(dir, 'onnx', `text_model${suffix}.onnx`);
  const missing: string[] = [];
  for (const path of [join(dir, 'config.json'), join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json'), audioModel, textModel]) {
    if (!(await stat(path).then((s) => s.isFile(), () => false))) missing.push(path.slice(dir.length + 1));
  }
  if (missing.length > 0) throw new Error(`${dir} is not a CLAP export (Xenova/clap-htsat-unfused layout): missing ${missing.join(', ')}`);

  const config = await readJson(join(dir, 'config.json'));
  const audioConfig = (config.audio_config ?? {}) as Record<string, unknown>;
  const fused = audioConfig.enable_fusion === true;
  const preprocessor = await readJson(join(dir, 'preprocessor_config.json')).catch((error: unknown) => {
    if ((error as { code?: string }).code === 'ENOENT') return {} as Record<string, unknown>;
    throw error;
  });
  checkFrontEnd(dir, preprocessor);
  const truncation = (preprocessor.truncation ?? (fused ? 'fusion' : 'rand_trunc')) as string;
  if (truncation !== 'fusion' && truncation !== 'rand_trunc') {
    throw new Error(`${dir}/preprocessor_config.json: truncation ${JSON.stringify(truncation)} is not supported (fusion or rand_trunc)`);
  }
  if (truncation === 'fusion' && !fused) {
    throw new Error(`${dir}: preprocessor_config.json asks for truncation "fusion" but config.json audio_config.enable_fusion is not true — an unfused checkpoint takes one view`);
  }
  if (preprocessor.padding !== undefined && preprocessor.padding !== 'repeatpad') {
    throw new Error(`${dir}/preprocessor_config.json: padding ${JSON.stringify(preprocessor.padding)} is not supported (repeatpad, as LAION-CLAP)`);
  }
  return { dir, fused, truncation, filterBank: fused ? 'htk' : 'slaney', audioModel, textModel, maxTextLength: 77 };
}

/** The extractor's numbers are CLAP's; a folder expecting others would get silently wrong features. */
function checkFrontEnd(dir: string, preprocessor: Record<string, unknown>): void {
  const expected: Record<string, number> = {
    sampling_rate: CLAP_AUDIO.sampleRate,
    feature_size: CLAP_AUDIO.melBins,
    fft_window_size: CLAP_AUDIO.nFft,
    hop_length: CLAP_AUDIO.hop,
    frequency_min: CLAP_AUDIO.fMin,
    frequency_max: CLAP_AUDIO.fMax,
    nb_max_samples: CLAP_AUDIO.maxSamples,
  };
  for (const [key, value] of Object.entries(expected)) {
    if (preprocessor[key] !== undefined && preprocessor[key] !== value) {
      throw new Error(`${dir}/preprocessor_config.json: ${key} is ${JSON.stringify(preprocessor[key])}, clapset's CLAP front end computes ${value}`);
    }
  }
  if (preprocessor.top_db !== undefined && preprocessor.top_db !== null) {
    throw new Error(`${dir}/preprocessor_config.json: top_db ${JSON.stringify(preprocessor.top_db)} is not supported (CLAP uses none)`);
  }
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  const text = await readFile(path, 'utf8');
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
}
