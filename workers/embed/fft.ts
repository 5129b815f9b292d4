/**
 * Power spectrum of real frames of length N (a power of two) through one complex FFT of N/2 points:
 * even samples as real parts, odd as imaginary, then the standard split step. Tables (bit reversal,
 * twiddles, window) are built once per size, so a frame costs only the butterflies — the hot loop of
 * feature extraction (1001 frames per 10-s clip). Passes: one radix-8 pass (stages 2–8, no general
 * twiddles) while loading, then the other stages two at a time: 4 passes over the data for N = 1024
 * instead of 9, which made the FFT ~2.5× faster than plain radix-2 on the reference machine.
 */
export class RealPowerFft {
  readonly size: number;
  /** Output length: N/2 + 1 bins (DC .. Nyquist), the onesided spectrum. */
  readonly bins: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /**
   * Twiddles of every stage of size L ≥ 16 (the radix-8 first pass needs none), stage after stage,
   * as (cos, sin) of -2πj/L for j < L/2: read in order by the butterflies, not strided from one table.
   */
  private readonly twiddles: Float64Array;
  /** Where each stage's twiddles start in `twiddles`, by log2 of the stage size. */
  private readonly twiddleStart: Int32Array;
  /** cos/sin of -2πk/N for the real split step. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(size: number) {
    if (size < 16 || (size & (size - 1)) !== 0) throw new Error(`FFT size must be a power of two ≥ 16, got ${size}`);
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
    this.twiddles = new Float64Array(2 * m - 16);
    this.twiddleStart = new Int32Array(bits + 1);
    for (let size = 16, at = 0; size <= m; size <<= 1) {
      this.twiddleStart[Math.log2(size)] = at;
      for (let j = 0; j < size / 2; j++, at += 2) {
        this.twiddles[at] = Math.cos((2 * Math.PI * j) / size);
        this.twiddles[at + 1] = -Math.sin((2 * Math.PI * j) / size);
      }
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
   * The signal is read in place (no frame copy): windowing happens during the first pass.
   */
  power(signal: Float32Array, offset: number, window: Float64Array, out: Float64Array): void {
    const m = this.half;
    const re = this.re;
    const im = this.im;
    const rev = this.bitReverse;
    // The first three stages (sizes 2, 4 and 8) have only the twiddles ±1, ±i and (±1 ± i)/√2: one
    // radix-8 pass without general multiplications, fed straight from the signal — position s of
    // the bit-reversed order holds sample pair rev[s] (rev is its own inverse), windowed as read.
    const rsqrt2 = Math.SQRT1_2;
    for (let s = 0; s < m; s += 8) {
      const n0 = 2 * rev[s]!;
      const n1 = 2 * rev[s + 1]!;
      const n2 = 2 * rev[s + 2]!;
      const n3 = 2 * rev[s + 3]!;
      const n4 = 2 * rev[s + 4]!;
      const n5 = 2 * rev[s + 5]!;
      const n6 = 2 * rev[s + 6]!;
      const n7 = 2 * rev[s + 7]!;
      const x0r = signal[offset + n0]! * window[n0]!;
      const x0i = signal[offset + n0 + 1]! * window[n0 + 1]!;
      const x1r = signal[offset + n1]! * window[n1]!;
      const x1i = signal[offset + n1 + 1]! * window[n1 + 1]!;
      const x2r = signal[offset + n2]! * window[n2]!;
      const x2i = signal[offset + n2 + 1]! * window[n2 + 1]!;
      const x3r = signal[offset + n3]! * window[n3]!;
      const x3i = signal[offset + n3 + 1]! * window[n3 + 1]!;
      const x4r = signal[offset + n4]! * window[n4]!;
      const x4i = signal[offset + n4 + 1]! * window[n4 + 1]!;
      const x5r = signal[offset + n5]! * window[n5]!;
      const x5i = signal[offset + n5 + 1]! * window[n5 + 1]!;
      const x6r = signal[offset + n6]! * window[n6]!;
      const x6i = signal[offset + n6 + 1]! * window[n6 + 1]!;
      const x7r = signal[offset + n7]! * window[n7]!;
      const x7i = signal[offset + n7 + 1]! * window[n7 + 1]!;
      // Sizes 2 and 4 on points 0–3 (A) and 4–7 (B): twiddles 1 and −i, where −i·(x + iy) = y − ix.
      const p01r = x0r + x1r, p01i = x0i + x1i, m01r = x0r - x1r, m01i = x0i - x1i;
      const p23r = x2r + x3r, p23i = x2i + x3i, m23r = x2r - x3r, m23i = x2i - x3i;
      const p45r = x4r + x5r, p45i = x4i + x5i, m45r = x4r - x5r, m45i = x4i - x5i;
      const p67r = x6r + x7r, p67i = x6i + x7i, m67r = x6r - x7r, m67i = x6i - x7i;
      const a0r = p01r + p23r, a0i = p01i + p23i, a2r = p01r - p23r, a2i = p01i - p23i;
      const a1r = m01r + m23i, a1i = m01i - m23r, a3r = m01r - m23i, a3i = m01i + m23r;
      const b0r = p45r + p67r, b0i = p45i + p67i, b2r = p45r - p67r, b2i = p45i - p67i;
      const b1r = m45r + m67i, b1i = m45i - m67r, b3r = m45r - m67i, b3i = m45i + m67r;
      // Size 8: X[j] = A[j] + W8^j·B[j], X[j+4] = A[j] − W8^j·B[j]; W8 = (1 − i)/√2, W8² = −i, W8³ = (−1 − i)/√2.
      const t1r = (b1r + b1i) * rsqrt2, t1i = (b1i - b1r) * rsqrt2;
      const t3r = (b3i - b3r) * rsqrt2, t3i = -(b3r + b3i) * rsqrt2;
      re[s] = a0r + b0r;
      im[s] = a0i + b0i;
      re[s + 4] = a0r - b0r;
      im[s + 4] = a0i - b0i;
      re[s + 1] = a1r + t1r;
      im[s + 1] = a1i + t1i;
      re[s + 5] = a1r - t1r;
      im[s + 5] = a1i - t1i;
      re[s + 2] = a2r + b2i;
      im[s + 2] = a2i - b2r;
      re[s + 6] = a2r - b2i;
      im[s + 6] = a2i + b2r;
      re[s + 3] = a3r + t3r;
      im[s + 3] = a3i + t3i;
      re[s + 7] = a3r - t3r;
      im[s + 7] = a3i - t3i;
    }
    // The remaining stages two at a time (sizes L and 2L in one pass over each group of four:
    // half the loads and stores of two radix-2 passes); a last single stage when their count is odd.
    const tw = this.twiddles;
    const start = this.twiddleStart;
    let size = 16;
    let stage = 4;
    for (; 2 * size <= m; size <<= 2, stage += 2) {
      const h = size >> 1; // distance of a pair in the first stage; `size` in the second
      const first = start[stage]!;
      const second = start[stage + 1]!;
      for (let group = 0; group < m; group += 2 * size) {
        for (let j = 0; j < h; j++) {
          const p0 = group + j;
          const p1 = p0 + h;
          const p2 = p0 + size;
          const p3 = p2 + h;
          const x0r = re[p0]!;
          const x0i = im[p0]!;
          const x1r = re[p1]!;
          const x1i = im[p1]!;
          const x2r = re[p2]!;
          const x2i = im[p2]!;
          const x3r = re[p3]!;
          const x3i = im[p3]!;
          // Stage L: (p0, p1) and (p2, p3), twiddle W_L^j.
          const ar = tw[first + 2 * j]!;
          const ai = tw[first + 2 * j + 1]!;
          const u1r = x1r * ar - x1i * ai;
          const u1i = x1r * ai + x1i * ar;
          const u3r = x3r * ar - x3i * ai;
          const u3i = x3r * ai + x3i * ar;
          const a0r = x0r + u1r;
          const a0i = x0i + u1i;
          const a1r = x0r - u1r;
          const a1i = x0i - u1i;
          const a2r = x2r + u3r;
          const a2i = x2i + u3i;
          const a3r = x2r - u3r;
          const a3i = x2i - u3i;
          // Stage 2L: (p0, p2) with W_2L^j, (p1, p3) with W_2L^(j+L/2) = -i·W_2L^j.
          const br = tw[second + 2 * j]!;
          const bi = tw[second + 2 * j + 1]!;
          const v2r = a2r * br - a2i * bi;
          const v2i = a2r * bi + a2i * br;
          const v3r = a3r * bi + a3i * br; // -i · (a3 · W): (re, im) → (im, -re)
          const v3i = -(a3r * br - a3i * bi);
          re[p0] = a0r + v2r;
          im[p0] = a0i + v2i;
          re[p2] = a0r - v2r;
          im[p2] = a0i - v2i;
          re[p1] = a1r + v3r;
          im[p1] = a1i + v3i;
          re[p3] = a1r - v3r;
          im[p3] = a1i - v3i;
        }
      }
    }
    if (size <= m) {
      const halfSize = size >> 1;
      const base = start[stage]!;
      for (let group = 0; group < m; group += size) {
        for (let j = 0; j < halfSize; j++) {
          const wr = tw[base + 2 * j]!;
          const wi = tw[base + 2 * j + 1]!;
          const a = group + j;
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
