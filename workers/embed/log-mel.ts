import { hannWindow, RealPowerFft } from './fft.ts';
import { type FilterBankKind, CLAP_AUDIO } from './mel-config.ts';
import { type MelFilterBank, filterBank } from './mel-filters.ts';

/** A (frames × mels) log-mel spectrogram in dB, row-major (one frame per row), as CLAP feeds it. */
export interface LogMel {
  data: Float32Array;
  frames: number;
  mels: number;
}

/**
 * Everything a log-mel needs that does not depend on the clip — FFT tables, window, filter bank —
 * built once and reused for every clip (one per filter-bank kind per process).
 */
export class LogMelExtractor {
  readonly bank: MelFilterBank;
  private readonly fft: RealPowerFft;
  private readonly window: Float64Array;
  private readonly power: Float64Array;
  /** The filter bank's weights end to end, filter m at [offsets[m], offsets[m+1]): one array for the hot loop. */
  private readonly flatWeights: Float64Array;
  private readonly offsets: Int32Array;
  /** A frame at either end of the clip, with its reflected samples. */
  private readonly edgeFrame: Float32Array;

  constructor(
    kind: FilterBankKind,
    readonly nFft: number = CLAP_AUDIO.nFft,
    readonly hop: number = CLAP_AUDIO.hop,
  ) {
    this.fft = new RealPowerFft(nFft);
    this.window = hannWindow(nFft);
    this.edgeFrame = new Float32Array(nFft);
    this.power = new Float64Array(this.fft.bins);
    this.bank = filterBank(kind, { sampleRate: CLAP_AUDIO.sampleRate, nFft, mels: CLAP_AUDIO.melBins, fMin: CLAP_AUDIO.fMin, fMax: CLAP_AUDIO.fMax });
    this.offsets = new Int32Array(this.bank.mels + 1);
    this.bank.weights.forEach((w, m) => (this.offsets[m + 1] = this.offsets[m]! + w.length));
    this.flatWeights = new Float64Array(this.offsets[this.bank.mels]!);
    this.bank.weights.forEach((w, m) => this.flatWeights.set(w, this.offsets[m]!));
  }

  /** Frames that centred framing gives a signal of `samples` samples: 1 + ⌊samples / hop⌋. */
  frameCount(samples: number): number {
    return 1 + Math.floor(samples / this.hop);
  }

  /**
   * torchaudio MelSpectrogram(center=True, pad_mode='reflect', power=2) then AmplitudeToDB(top_db=None):
   * 10·log10(max(mel, 1e-10)). The FFT runs in float64; the result is rounded to float32 once.
   */
  compute(pcm: Float32Array): LogMel {
    if (pcm.length === 0) throw new Error('cannot compute a spectrogram of an empty signal');
    const half = this.nFft / 2;
    const frames = this.frameCount(pcm.length);
    const edge = this.edgeFrame;
    const { mels, start } = this.bank;
    const { flatWeights: weights, offsets, power } = this;
    const amin = CLAP_AUDIO.amin;
    const data = new Float32Array(frames * mels);
    for (let f = 0; f < frames; f++) {
      // Frame f covers samples [f·hop − N/2, f·hop + N/2): read in place, or, where it reaches past
      // an end, copied out with the reflected samples (no padded copy of the whole clip).
      const first = f * this.hop - half;
      if (first >= 0 && first + this.nFft <= pcm.length) this.fft.power(pcm, first, this.window, power);
      else {
        for (let i = 0; i < this.nFft; i++) edge[i] = pcm[reflectIndex(first + i, pcm.length)]!;
        this.fft.power(edge, 0, this.window, power);
      }
      const row = f * mels;
      for (let m = 0; m < mels; m++) {
        const end = offsets[m + 1]!;
        const shift = start[m]! - offsets[m]!; // weight i applies to bin i + shift
        let sum = 0;
        for (let i = offsets[m]!; i < end; i++) sum += weights[i]! * power[i + shift]!;
        data[row + m] = 10 * Math.log10(sum > amin ? sum : amin);
      }
    }
    return { data, frames, mels };
  }
}

/**
 * Index into a signal of `n` samples of position `i` of its reflection (numpy/torch 'reflect': the
 * edge sample is not repeated). A signal shorter than the reach is reflected back and forth (torch
 * refuses it; clips reach here ≥ 10 s anyway).
 */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const j = ((i % period) + period) % period;
  return j >= n ? period - j : j;
}

const extractors = new Map<FilterBankKind, LogMelExtractor>();

/** The shared extractor for a filter-bank kind (tables built on first use). */
export function logMelExtractor(kind: FilterBankKind): LogMelExtractor {
  let extractor = extractors.get(kind);
  if (!extractor) {
    extractor = new LogMelExtractor(kind);
    extractors.set(kind, extractor);
  }
  return extractor;
}
