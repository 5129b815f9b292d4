/**
 * Keyword-to-Caption with a T5 text2text model (LAION used mrm8488/t5-base-finetuned-common_gen via
 * keytotext): keytotext's inputs (keytotextInputs) → encoder → our beam search over the decoder →
 * decoded segments joined → de-biased sentence. Generation defaults are keytotext's except max_length (see GenerationSettings).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { resolveModelDir } from '../../infra/models/model-dir.ts';
import { T5Model } from './t5-model.ts';
import { Batcher } from '../batching/batcher.ts';
import { beamSearch, validateBeamSearchOptions, type BeamSearchOptions } from './beam-search.ts';
import { debiasCaption } from './debias.ts';
import { keytotextInputs } from './keywords.ts';
import type { Captioner, CaptionerOptions, CaptionProvenance, GenerationSettings } from './captioner-types.ts';

export const KEYTOTEXT_GENERATION: GenerationSettings = { numBeams: 4, lengthPenalty: 1.5, noRepeatNgramSize: 3, earlyStopping: true, maxLength: 64 };
export const DEFAULT_BATCH_SIZE = 8;
/** Recorded in caption_provenance.prompt: how the model input was built. */
export const KEYTOTEXT_PROMPT = 'keytotext NMPipeline: str(keywords), "," → " ", quotes and brackets removed, split at ".", each segment + " </s>"; segment captions joined';

export async function createT5Captioner(setting: string, options: CaptionerOptions = {}): Promise<Captioner> {
  const generation: GenerationSettings = { ...KEYTOTEXT_GENERATION, ...options.generation };
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`caption batch size must be an integer ≥ 1, got ${batchSize}`);
  // Checked before the (slow) load; the token ids come from the model.
  validateBeamSearchOptions({ ...generation, decoderStartTokenId: 0, eosTokenId: 1 });
  const { dir, hubId } = await resolveModelDir(setting, options.env ?? process.env);
  const model = await T5Model.load(dir, {
    device: options.device ?? 'cpu',
    dtype: options.dtype ?? 'fp32',
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  const search: BeamSearchOptions = { ...generation, decoderStartTokenId: model.special.decoderStartTokenId, eosTokenId: model.special.eosTokenId };
  const debias = options.debias ?? true;
  const forged = typeof model.config.clapset_forge === 'object' && model.config.clapset_forge !== null;
  const provenance: CaptionProvenance = {
    captioner: 't5',
    model: hubId ?? basename(dir),
    model_revision: await pulledRevision(dir),
    model_type: typeof model.config.model_type === 'string' ? model.config.model_type : null,
    forged_test_model: forged,
    dtype: model.dtype,
    device: model.device,
    template: null,
    prompt: KEYTOTEXT_PROMPT,
    generation: {
      num_beams: generation.numBeams,
      length_penalty: generation.lengthPenalty,
      no_repeat_ngram_size: generation.noRepeatNgramSize,
      early_stopping: generation.earlyStopping,
      max_length: generation.maxLength,
    },
    debias,
  };

  async function captionBatch(keywordLists: readonly (readonly string[])[]): Promise<string[]> {
    // Every segment of every list is one row of the batch; a list's captions are its rows' joined.
    const segments = keywordLists.map(keytotextInputs);
    const prompts = segments.flat();
    const encoded = await model.encode(prompts);
    const decoded = (await beamSearch(prompts.length, model.stepper(encoded), search)).map((sequence) => model.decode(sequence.tokens));
    let row = 0;
    return segments.map((inputs) => {
      const caption = decoded.slice(row, (row += inputs.length)).join(' ').replace(/\s+/g, ' ').trim();
      return debias ? debiasCaption(caption) : caption;
    });
  }

  // Every job of this process shares one batcher: a run (encoder + the whole beam search, every
  // beam of every source in one decoder run per step) takes up to batchSize keyword lists from
  // whichever jobs are waiting. Rows do not interact (padding is masked), so a list's caption is the
  // one it gets alone.
  const batcher = new Batcher<readonly string[], string>({ name: 't5', maxBatch: batchSize, ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }), run: captionBatch });

  return {
    id: `t5:${provenance.model}`,
    provenance,
    async caption(keywordLists) {
      for (const [index, keywords] of keywordLists.entries()) {
        if (keywords.length === 0) throw new Error(`keyword list ${index} is empty: skip such clips before captioning`);
      }
      return batcher.submit(keywordLists);
    },
    enter: () => batcher.enter(),
    batchStats: () => structuredClone(batcher.stats),
    close: () => model.release(),
  };
}

/** The revision `clapset models pull` recorded in the folder, if it came from there. */
async function pulledRevision(dir: string): Promise<string | null> {
  const text = await readFile(join(dir, 'clapset-pull.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  const revision = (JSON.parse(text) as { revision?: unknown }).revision;
  return typeof revision === 'string' ? revision : null;
}
