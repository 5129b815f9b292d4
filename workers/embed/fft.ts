/**
 * Power spectrum of real frames of length N (a power of two) through one complex FFT of N/2 points:
 * even samples as real parts, odd as imaginary, then the standard split step. Tables (bit reversal,
 * twiddles, window) are built once per size, so a frame costs only the butterflies — the hot loop of
 * feature extraction (1001 frames per 10-s clip).
 */
export class RealPowerFft {
  readonly size: number;
  /** Output length: N/2 + 1 bins (DC .. Nyquist), the onesided spectrum. */
  readonly bins: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /** cos/sin of -2πj/(N/2) for the complex butterflies. */
  private readonly cosTable: Float64Array;
  private readonly sinTable: Float64Array;
  /** cos/sin of -2πk/N for the real split step. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(size: number) {
    if (size < 8 || (size & (size - 1)) !== 0) throw new Error(`FFT size must be a power of two ≥ 8, got ${size}`);
    this.size = size;
    this.half = size / 2;
    this.bins = this.half + 1;
    const m = this.half;
    const bits = Math.log2(m);
    this.bitReverse = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    this.cosTable = new Float64Array(m / 2);
    this.sinTable = new Float64Array(m / 2);
    for (let j = 0; j < m / 2; j++) {
      this.cosTable[j] = Math.cos((2 * Math.PI * j) / m);
      this.sinTable[j] = -Math.sin((2 * Math.PI * j) / m);
    }
    this.splitCos = new Float64Array(this.bins);
    this.splitSin = new Float64Array(this.bins);
    for (let k = 0; k < this.bins; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / size);
      this.splitSin[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
  }

  /**
   * |FFT(window · signal[offset .. offset+N))|² into `out` (length `bins`). `window` has length N.
   * The signal is read in place (no frame copy): windowing happens during the bit-reversed load.
   */
  power(signal: Float32Array | Float64Array, offset: number, window: Float64Array, out: Float64Array): void {
    const m = this.half;
    const re = this.re;
    const im = this.im;
    const rev = this.bitReverse;
    for (let n = 0; n < m; n++) {
      const r = rev[n]!;
      const i = offset + 2 * n;
      re[r] = signal[i]! * window[2 * n]!;
      im[r] = signal[i + 1]! * window[2 * n + 1]!;
    }
    // The first two stages (sizes 2 and 4) have only the twiddles 1 and -i: one radix-4 pass without
    // multiplications instead of two general passes.
    for (let s = 0; s < m; s += 4) {
      const r0 = re[s]!;
      const i0 = im[s]!;
      const r1 = re[s + 1]!;
      const i1 = im[s + 1]!;
      const r2 = re[s + 2]!;
      const i2 = im[s + 2]!;
      const r3 = re[s + 3]!;
      const i3 = im[s + 3]!;
      const ar = r0 + r1;
      const ai = i0 + i1;
      const br = r0 - r1;
      const bi = i0 - i1;
      const cr = r2 + r3;
      const ci = i2 + i3;
      const dr = r2 - r3;
      const di = i2 - i3;
      re[s] = ar + cr;
      im[s] = ai + ci;
      re[s + 2] = ar - cr;
      im[s + 2] = ai - ci;
      // (b) ± (-i)(d): -i·d = (di, -dr)
      re[s + 1] = br + di;
      im[s + 1] = bi - dr;
      re[s + 3] = br - di;
      im[s + 3] = bi + dr;
    }
    const cosT = this.cosTable;
    const sinT = this.sinTable;
    for (let size = 8; size <= m; size <<= 1) {
      const halfSize = size >> 1;
      const step = m / size;
      for (let start = 0; start < m; start += size) {
        for (let j = 0, t = 0; j < halfSize; j++, t += step) {
          const wr = cosT[t]!;
          const wi = sinT[t]!;
          const a = start + j;
          const b = a + halfSize;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          const ar = re[a]!;
          const ai = im[a]!;
          re[a] = ar + xr;
          im[a] = ai + xi;
          re[b] = ar - xr;
          im[b] = ai - xi;
        }
      }
    }
    // Split: X[k] = E[k] + W^k·O[k], with E = (Z[k] + conj Z[m-k]) / 2 and O = -i (Z[k] - conj Z[m-k]) / 2.
    const sc = this.splitCos;
    const ss = this.splitSin;
    for (let k = 0; k <= m; k++) {
      const k1 = k === m ? 0 : k;
      const k2 = k === 0 ? 0 : m - k;
      const zr = re[k1]!;
      const zi = im[k1]!;
      const cr = re[k2]!;
      const ci = -im[k2]!;
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi + ci);
      const or = 0.5 * (zi - ci);
      const oi = -0.5 * (zr - cr);
      const wr = sc[k]!;
      const wi = ss[k]!;
      const xr = er + or * wr - oi * wi;
      const xi = ei + or * wi + oi * wr;
      out[k] = xr * xr + xi * xi;
    }
  }
}

/** Periodic Hann window (torch.hann_window default, scipy `hann(N, sym=False)`), as CLAP uses. */
export function hannWindow(size: number): Float64Array {
  const window = new Float64Array(size);
  for (let n = 0; n < size; n++) window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / size);
  return window;
}
