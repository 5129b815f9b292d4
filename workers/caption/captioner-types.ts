/** What every captioner offers and records: the contract between the caption processor and the T5 or template captioner. */
import type { Device } from '../../infra/models/devices.ts';
import type { ModelDtype } from '../../infra/models/model-dir.ts';
import type { BatcherStats } from '../batching/batcher.ts';

export interface Captioner {
  /** `template`, or `t5:<model>`. */
  readonly id: string;
  /** Written into every sample's `caption_provenance`. */
  readonly provenance: CaptionProvenance;
  /** One caption per keyword list (cleaned, non-empty), in order. Batched results equal one-by-one ones. */
  caption(keywordLists: readonly (readonly string[])[]): Promise<string[]>;
  /**
   * Model captioners batch across the jobs of a process: a job declares itself before it reads its
   * clips and calls the returned function once it has captioned (workers/batching/batcher.ts).
   */
  enter?(): () => void;
  /** The shared batcher's counters (model captioners only). */
  batchStats?(): BatcherStats;
  close(): Promise<void>;
}

/** How a caption was made: enough to tell template from T5 and to reproduce the generation. */
export interface CaptionProvenance {
  captioner: 't5' | 'template';
  /** Model id or folder name as configured; null for the template. */
  model: string | null;
  /** Present for T5: the hub revision recorded by `clapset models pull`, if the folder came from it. */
  model_revision?: string | null;
  model_type?: string | null;
  /** True when the model is clapset's tiny generated test model (untrained: its captions are noise). */
  forged_test_model?: boolean;
  dtype?: ModelDtype;
  device?: Device;
  template: string | null;
  prompt?: string;
  generation: {
    num_beams: number;
    length_penalty: number;
    no_repeat_ngram_size: number;
    early_stopping: boolean;
    max_length: number;
  } | null;
  debias: boolean;
}

export interface CaptionerOptions {
  /** Folder or hub id; undefined reads CLAPSET_CAPTION_MODEL; empty/absent → the template captioner. */
  model?: string | null;
  device?: Device;
  dtype?: ModelDtype;
  /** Keyword lists per encoder/decoder batch (default 8), assembled across the jobs of a process. */
  batchSize?: number;
  /** How long a partial batch waits for other jobs' keyword lists (ms, default 10). */
  lingerMs?: number;
  generation?: Partial<GenerationSettings>;
  debias?: boolean;
  threads?: number;
  env?: NodeJS.ProcessEnv;
}

export interface GenerationSettings {
  numBeams: number;
  lengthPenalty: number;
  noRepeatNgramSize: number;
  earlyStopping: boolean;
  /** Decoder length cap including the start token. keytotext's 1024 is a runaway guard only; a
   *  CommonGen sentence ends in ~20 tokens, and 64 bounds the cost of a model that never stops. */
  maxLength: number;
}
