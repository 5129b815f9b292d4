import { hannWindow, RealPowerFft } from './fft.ts';
import type { FilterBankKind } from './mel-config.ts';
import { CLAP_AUDIO } from './mel-config.ts';
import type { MelFilterBank } from './mel-filters.ts';
import { filterBank } from './mel-filters.ts';

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

  constructor(
    kind: FilterBankKind,
    readonly nFft: number = CLAP_AUDIO.nFft,
    readonly hop: number = CLAP_AUDIO.hop,
  ) {
    this.fft = new RealPowerFft(nFft);
    this.window = hannWindow(nFft);
    this.power = new Float64Array(this.fft.bins);
    this.bank = filterBank(kind, { sampleRate: CLAP_AUDIO.sampleRate, nFft, mels: CLAP_AUDIO.melBins, fMin: CLAP_AUDIO.fMin, fMax: CLAP_AUDIO.fMax });
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
    const padded = reflectPad(pcm, this.nFft / 2);
    const frames = this.frameCount(pcm.length);
    const { mels, start, weights } = this.bank;
    const data = new Float32Array(frames * mels);
    const power = this.power;
    for (let f = 0; f < frames; f++) {
      this.fft.power(padded, f * this.hop, this.window, power);
      const row = f * mels;
      for (let m = 0; m < mels; m++) {
        const w = weights[m]!;
        const s = start[m]!;
        let sum = 0;
        for (let i = 0; i < w.length; i++) sum += w[i]! * power[s + i]!;
        data[row + m] = 10 * Math.log10(sum > CLAP_AUDIO.amin ? sum : CLAP_AUDIO.amin);
      }
    }
    return { data, frames, mels };
  }
}

/**
 * `pad` samples mirrored on each side, excluding the edge sample (numpy/torch 'reflect'). A signal
 * shorter than the pad is reflected back and forth (torch refuses it; clips reach here ≥ 10 s anyway).
 */
export function reflectPad(pcm: Float32Array, pad: number): Float32Array {
  const n = pcm.length;
  if (n === 0) throw new Error('cannot compute a spectrogram of an empty signal');
  const out = new Float32Array(n + 2 * pad);
  out.set(pcm, pad);
  const at = (i: number): number => {
    if (n === 1) return pcm[0]!;
    const period = 2 * (n - 1);
    let j = ((i % period) + period) % period;
    if (j >= n) j = period - j;
    return pcm[j]!;
  };
  for (let i = 1; i <= pad; i++) {
    out[pad - i] = at(-i);
    out[pad + n - 1 + i] = at(n - 1 + i);
  }
  return out;
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
