import { type LogMel, logMelExtractor } from './log-mel.ts';
import { type FilterBankKind, type Truncation, CLAP_AUDIO } from './mel-config.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

/**
 * CLAP's per-clip input: `(1, 1001, 64)` for rand_trunc, `(4, 1001, 64)` for fusion, and whether the
 * clip was longer than the 10-s window (the `is_longer` input of fused checkpoints).
 */
export interface ClipFeatures {
  data: Float32Array;
  shape: [channels: number, frames: number, mels: number];
  longer: boolean;
}

export interface ClipFeatureOptions {
  truncation: Truncation;
  filterBank: FilterBankKind;
  /** Seeds the crop positions, so the same clip and seed give the same features on any host. */
  seed: number | string;
}

/** Where a clip's crops came from (for tests and logs): frame offsets of the local views, or the sample offset of the rand_trunc crop. */
export interface CropChoice {
  kind: 'repeatpad' | 'whole' | 'rand_trunc' | 'fusion';
  sampleOffset?: number;
  frameOffsets?: [front: number, middle: number, back: number];
}

/** LAION-CLAP `get_audio_features` (and HF ClapFeatureExtractor) for one 48 kHz mono clip. */
export function clipFeatures(pcm: Float32Array, options: ClipFeatureOptions): ClipFeatures {
  return clipFeaturesWithCrops(pcm, options).features;
}

export function clipFeaturesWithCrops(pcm: Float32Array, options: ClipFeatureOptions): { features: ClipFeatures; crops: CropChoice } {
  if (pcm.length === 0) throw new Error('cannot compute CLAP features of an empty clip');
  const extractor = logMelExtractor(options.filterBank);
  const random = new SeededRandom(options.seed);
  const max = CLAP_AUDIO.maxSamples;
  const chunk = CLAP_AUDIO.chunkFrames;

  if (pcm.length <= max) {
    const mel = extractor.compute(repeatPad(pcm, max));
    const copies = options.truncation === 'fusion' ? 4 : 1;
    return { features: stack(Array<LogMel>(copies).fill(mel), false), crops: { kind: 'repeatpad' } };
  }

  if (options.truncation === 'rand_trunc') {
    const offset = random.int(0, pcm.length - max);
    const mel = extractor.compute(pcm.subarray(offset, offset + max));
    return { features: stack([mel], true), crops: { kind: 'rand_trunc', sampleOffset: offset } };
  }

  const mel = extractor.compute(pcm);
  if (mel.frames === chunk) {
    // Longer than 10 s by less than a hop: the whole mel is exactly one window (LAION's corner case).
    return { features: stack([mel, mel, mel, mel], false), crops: { kind: 'whole' } };
  }
  const [front, middle, back] = fusionRanges(mel.frames, chunk);
  const offsets: [number, number, number] = [pick(random, front), pick(random, middle), pick(random, back)];
  const views = [resizeFrames(mel, chunk), ...offsets.map((offset) => sliceFrames(mel, offset, chunk))];
  return { features: stack(views, true), crops: { kind: 'fusion', frameOffsets: offsets } };
}

/**
 * Repeat the waveform while a whole copy fits in `length` samples, then zero-pad (LAION-CLAP
 * `repeatpad`: `n_repeat = int(max_len / len)`). A clip of exactly `length` samples is returned as is.
 */
export function repeatPad(pcm: Float32Array, length: number): Float32Array {
  if (pcm.length >= length) return pcm;
  if (pcm.length === 0) throw new Error('cannot repeat-pad an empty clip');
  const out = new Float32Array(length);
  const copies = Math.floor(length / pcm.length);
  for (let i = 0; i < copies; i++) out.set(pcm, i * pcm.length);
  return out;
}

/** Inclusive [first, last] start frames, or a single 0 when a third is empty. */
export type FrameRange = readonly [first: number, last: number];

/**
 * `np.array_split(range(0, total - chunk + 1), 3)`: the first `n % 3` parts get one extra start;
 * empty middle/back parts fall back to `[0]`, as in LAION-CLAP.
 */
export function fusionRanges(totalFrames: number, chunkFrames: number): [FrameRange, FrameRange, FrameRange] {
  const n = totalFrames - chunkFrames + 1;
  if (n < 1) throw new Error(`fusion needs at least ${chunkFrames} frames, got ${totalFrames}`);
  const base = Math.floor(n / 3);
  const extra = n % 3;
  const ranges: FrameRange[] = [];
  let first = 0;
  for (let i = 0; i < 3; i++) {
    const size = base + (i < extra ? 1 : 0);
    ranges.push(size === 0 ? [0, 0] : [first, first + size - 1]);
    first += size;
  }
  return ranges as [FrameRange, FrameRange, FrameRange];
}

function pick(random: SeededRandom, [first, last]: FrameRange): number {
  return random.int(first, last);
}

function sliceFrames(mel: LogMel, offset: number, frames: number): LogMel {
  return { data: mel.data.subarray(offset * mel.mels, (offset + frames) * mel.mels), frames, mels: mel.mels };
}

/**
 * The global view: the whole mel resized to `frames` rows with bilinear interpolation,
 * half-pixel centres and no antialiasing — `F.interpolate(mode='bilinear', align_corners=False)`,
 * which is what torchvision's tensor Resize did in the versions LAION-CLAP trained with and what HF's
 * ClapFeatureExtractor calls. The mel axis keeps its size, where bilinear is the identity, so only
 * time is interpolated.
 */
export function resizeFrames(mel: LogMel, frames: number): LogMel {
  const { mels } = mel;
  const out = new Float32Array(frames * mels);
  const scale = mel.frames / frames;
  for (let t = 0; t < frames; t++) {
    const source = Math.max(0, (t + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(source), mel.frames - 1);
    const i1 = Math.min(i0 + 1, mel.frames - 1);
    const l1 = source - i0;
    const l0 = 1 - l1;
    const a = i0 * mels;
    const b = i1 * mels;
    const o = t * mels;
    for (let m = 0; m < mels; m++) out[o + m] = l0 * mel.data[a + m]! + l1 * mel.data[b + m]!;
  }
  return { data: out, frames, mels };
}

function stack(views: readonly LogMel[], longer: boolean): ClipFeatures {
  const first = views[0]!;
  const size = first.frames * first.mels;
  const data = new Float32Array(views.length * size);
  views.forEach((view, i) => data.set(view.data, i * size));
  return { data, shape: [views.length, first.frames, first.mels], longer };
}
