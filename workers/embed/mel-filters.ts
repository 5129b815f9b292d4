import type { FilterBankKind } from './mel-config.ts';

/**
 * A mel filter bank stored sparsely: each triangle touches only a few FFT bins, so the mel step of a
 * frame is ~2·bins multiply-adds instead of bins·mels.
 */
export interface MelFilterBank {
  kind: FilterBankKind;
  mels: number;
  bins: number;
  /** First FFT bin of each filter. */
  start: Int32Array;
  /** Weights of each filter from its first bin on. */
  weights: Float64Array[];
}

export interface MelFilterOptions {
  sampleRate: number;
  nFft: number;
  mels: number;
  fMin: number;
  fMax: number;
}

/**
 * torchaudio `melscale_fbanks(norm=None, mel_scale='htk')` — the filters of torchaudio's
 * MelSpectrogram, which LAION-CLAP's `get_mel` (the fusion path) uses.
 */
export function htkFilterBank(options: MelFilterOptions): MelFilterBank {
  const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
  const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);
  const points = melPoints(options, hzToMel, melToHz);
  return triangles('htk', options, points, () => 1);
}

/**
 * librosa `filters.mel(htk=False, norm='slaney')` — the filters of HTSAT's in-model torchlibrosa
 * front end, which unfused checkpoints (rand_trunc) were trained with. Slaney's scale is linear below
 * 1 kHz and logarithmic above; each triangle is scaled to unit area.
 */
export function slaneyFilterBank(options: MelFilterOptions): MelFilterBank {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  const hzToMel = (hz: number): number => (hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) / logStep : hz / fSp);
  const melToHz = (mel: number): number => (mel >= minLogMel ? minLogHz * Math.exp(logStep * (mel - minLogMel)) : fSp * mel);
  const points = melPoints(options, hzToMel, melToHz);
  return triangles('slaney', options, points, (m) => 2 / (points[m + 2]! - points[m]!));
}

export function filterBank(kind: FilterBankKind, options: MelFilterOptions): MelFilterBank {
  return kind === 'htk' ? htkFilterBank(options) : slaneyFilterBank(options);
}

/** mels + 2 edge frequencies, equally spaced on the mel scale between fMin and fMax. */
function melPoints(options: MelFilterOptions, hzToMel: (hz: number) => number, melToHz: (mel: number) => number): Float64Array {
  const lo = hzToMel(options.fMin);
  const hi = hzToMel(options.fMax);
  const points = new Float64Array(options.mels + 2);
  for (let i = 0; i < points.length; i++) points[i] = melToHz(lo + ((hi - lo) * i) / (options.mels + 1));
  return points;
}

function triangles(kind: FilterBankKind, options: MelFilterOptions, points: Float64Array, scale: (mel: number) => number): MelFilterBank {
  const bins = options.nFft / 2 + 1;
  const start = new Int32Array(options.mels);
  const weights: Float64Array[] = [];
  for (let m = 0; m < options.mels; m++) {
    const left = points[m]!;
    const centre = points[m + 1]!;
    const right = points[m + 2]!;
    const gain = scale(m);
    const dense = new Float64Array(bins);
    let first = -1;
    let last = -1;
    for (let k = 0; k < bins; k++) {
      const hz = (k * options.sampleRate) / options.nFft; // linspace(0, sr/2, bins)
      const w = Math.max(0, Math.min((hz - left) / (centre - left), (right - hz) / (right - centre)));
      if (w > 0) {
        dense[k] = w * gain;
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) {
      // A filter narrower than one bin (too many mels for the FFT size) stays all-zero, as in
      // librosa/torchaudio; keep one zero weight so the layout stays uniform.
      first = 0;
      last = 0;
    }
    start[m] = first;
    weights.push(dense.slice(first, last + 1));
  }
  return { kind, mels: options.mels, bins, start, weights };
}
