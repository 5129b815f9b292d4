/**
 * The K2C captioner a caption processor holds: T5 when a model is configured (`--caption-model` or
 * CLAPSET_CAPTION_MODEL), else LAION's template. One per worker process: a T5 load costs seconds.
 */
import { captionModelSetting } from '../../infra/models/model-dir.ts';
import type { Captioner, CaptionerOptions } from './captioner-types.ts';

export async function createCaptioner(options: CaptionerOptions = {}): Promise<Captioner> {
  const setting = options.model === null ? null : captionModelSetting(options.model, options.env ?? process.env);
  if (setting === null) {
    const { createTemplateCaptioner } = await import('./template-captioner.ts');
    return createTemplateCaptioner({ debias: options.debias ?? true });
  }
  // Loaded lazily: the template path never pays for onnxruntime and the tokenizer.
  const { createT5Captioner } = await import('./t5-captioner.ts');
  return createT5Captioner(setting, options);
}
