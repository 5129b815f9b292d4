/**
 * Where a caption model lives. `--caption-model` (or CLAPSET_CAPTION_MODEL) names either a folder
 * (a path: absolute, or starting with `.`, or an existing directory) or a hub id `owner/name`, which
 * resolves to `<models root>/owner/name` — the folder `clapset models pull` fills. The models root is
 * CLAPSET_MODELS_DIR, else `~/.cache/clapset/models`. Nothing is ever fetched at load time.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { configFromEnv } from '../../schemas/config.ts';
import type { ModelDtype } from '../../schemas/dataset.ts';

/** transformers.js' dtype names and the file suffix each selects (`encoder_model<suffix>.onnx`). */
export const DTYPE_SUFFIX: Readonly<Record<ModelDtype, string>> = { fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4', q4f16: '_q4f16', bnb4: '_bnb4' };
export type { ModelDtype };

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function modelsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return configFromEnv(env).modelsDir;
}

/** The caption model chosen by option, then environment; null means "use the template captioner". */
export function captionModelSetting(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const value = (option ?? configFromEnv(env).captionModel ?? '').trim();
  return value === '' ? null : value;
}

/** Checks a hub id's shape (`owner/name`); ids never contain `..` or leading slashes. */
export function assertHubId(id: string): void {
  if (!HUB_ID.test(id) || id.split('/').some((part) => part === '.' || part === '..')) {
    throw new Error(`not a model id: ${JSON.stringify(id)} (expected owner/name)`);
  }
}

export interface ResolvedModel {
  dir: string;
  /** The hub id when the setting was one (not a path). */
  hubId: string | null;
}

/** Folder for a model given as a path or an id; whether it holds a usable model is checked by the loader. */
export async function resolveModelDir(dirOrId: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedModel> {
  if (isAbsolute(dirOrId) || dirOrId.startsWith('.') || (await isDirectory(dirOrId))) {
    const dir = resolve(dirOrId);
    if (!(await isDirectory(dir))) throw new Error(`model folder ${dir} does not exist`);
    return { dir, hubId: null };
  }
  assertHubId(dirOrId);
  const dir = join(modelsRoot(env), ...dirOrId.split('/'));
  if (!(await isDirectory(dir))) {
    throw new Error(`model ${dirOrId} is not in ${modelsRoot(env)}: run \`clapset models pull ${dirOrId}\` on a host with hub access, copy the folder there, or pass a folder path`);
  }
  return { dir, hubId: dirOrId };
}

export interface Seq2SeqFiles {
  dir: string;
  dtype: ModelDtype;
  encoder: string;
  decoder: string;
}

/** The encoder/decoder pair of a published seq2seq export for a dtype, or an error naming what is there. */
export async function seq2seqFiles(dir: string, dtype: ModelDtype = 'fp32'): Promise<Seq2SeqFiles> {
  const required = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
  const missing: string[] = [];
  for (const name of required) if (!(await isFile(join(dir, name)))) missing.push(name);
  const suffix = DTYPE_SUFFIX[dtype];
  const encoder = join(dir, 'onnx', `encoder_model${suffix}.onnx`);
  const decoder = join(dir, 'onnx', `decoder_model_merged${suffix}.onnx`);
  for (const path of [encoder, decoder]) if (!(await isFile(path))) missing.push(path.slice(dir.length + 1));
  if (missing.length > 0) {
    const present: string[] = [];
    for (const [name, s] of Object.entries(DTYPE_SUFFIX)) {
      if ((await isFile(join(dir, 'onnx', `encoder_model${s}.onnx`))) && (await isFile(join(dir, 'onnx', `decoder_model_merged${s}.onnx`)))) present.push(name);
    }
    throw new Error(
      `${dir} is not a usable T5 export for dtype ${dtype}: missing ${missing.join(', ')}` +
        (present.length > 0 ? ` (dtypes present: ${present.join(', ')})` : ' (expected the onnx/encoder_model*.onnx + onnx/decoder_model_merged*.onnx layout)'),
    );
  }
  return { dir, dtype, encoder, decoder };
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}
