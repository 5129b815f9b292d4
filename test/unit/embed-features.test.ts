import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hannWindow, RealPowerFft } from '../../workers/embed/fft.ts';
import { clipFeatures, clipFeaturesWithCrops, fusionRanges, repeatPad, resizeFrames } from '../../workers/embed/fusion.ts';
import { LogMelExtractor, reflectIndex } from '../../workers/embed/log-mel.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

const SR = 48_000;

/** A deterministic, non-periodic test clip (so any two crops differ). */
function clip(seconds: number, seed = 1): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 300 * i * (1 + i / (SR * 40))) / SR) + 0.05 * (random.next() - 0.5));
}

function view(features: { data: Float32Array; shape: number[] }, index: number): Float32Array {
  const size = features.shape[1]! * features.shape[2]!;
  return features.data.subarray(index * size, (index + 1) * size);
}

describe('RealPowerFft', () => {
  test('matches a direct DFT of a windowed frame, every bin, whatever the number of stages', () => {
    // m = n/2 complex points: 4 (first pass only), 8 (one single stage), 16 (one double), 32 (double
    // + single), 512 (CLAP's size: three doubles + single), 1024 (four doubles).
    for (const n of [16, 32, 64, 128, 1024, 2048]) {
      const fft = new RealPowerFft(n);
      const window = hannWindow(n);
      const random = new SeededRandom(n);
      const signal = Float32Array.from({ length: n + 3 }, () => random.next() - 0.5);
      const out = new Float64Array(fft.bins);
      fft.power(signal, 3, window, out);
      for (let k = 0; k <= n / 2; k++) {
        let re = 0;
        let im = 0;
        for (let t = 0; t < n; t++) {
          const x = signal[3 + t]! * window[t]!;
          re += x * Math.cos((2 * Math.PI * k * t) / n);
          im -= x * Math.sin((2 * Math.PI * k * t) / n);
        }
        assert.ok(Math.abs(out[k]! - (re * re + im * im)) < 1e-9 * Math.max(1, re * re + im * im), `n=${n} k=${k}`);
      }
    }
  });
});

describe('framing', () => {
  test('reflect padding mirrors without repeating the edge sample', () => {
    const signal = [1, 2, 3, 4];
    assert.deepEqual(Array.from({ length: 8 }, (_, i) => signal[reflectIndex(i - 2, 4)]), [3, 2, 1, 2, 3, 4, 3, 2]);
    // Shorter than the reach: back and forth; one sample: itself.
    assert.deepEqual(Array.from({ length: 9 }, (_, i) => reflectIndex(i - 4, 2)), [0, 1, 0, 1, 0, 1, 0, 1, 0]);
    assert.equal(reflectIndex(-5, 1), 0);
  });
  test('centred frames: 1 + floor(samples / hop)', () => {
    const extractor = new LogMelExtractor('htk');
    assert.equal(extractor.frameCount(480_000), 1001);
    assert.equal(extractor.compute(clip(1)).frames, 101);
  });
  test('silence floors at 10·log10(1e-10) = -100 dB', () => {
    const mel = new LogMelExtractor('slaney').compute(new Float32Array(4800));
    assert.ok(mel.data.every((v) => v === -100));
  });
});

describe('repeatpad', () => {
  test('whole copies while they fit, then exact zeros', () => {
    const pcm = Float32Array.from({ length: 7 }, (_, i) => i + 1);
    assert.deepEqual(Array.from(repeatPad(pcm, 25)), [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0]);
    // A length that divides the window fills it exactly (LAION: int(max_len / len) copies).
    assert.deepEqual(Array.from(repeatPad(Float32Array.from([1, 2]), 6)), [1, 2, 1, 2, 1, 2]);
    // A clip of exactly the window is untouched.
    const full = Float32Array.from([1, 2, 3]);
    assert.equal(repeatPad(full, 3), full);
  });
  test('a 3-s clip: three copies and 1 s of zeros, bit-exact', () => {
    const pcm = clip(3);
    const padded = repeatPad(pcm, 480_000);
    for (let c = 0; c < 3; c++) assert.deepEqual(padded.subarray(c * 144_000, (c + 1) * 144_000), pcm);
    assert.ok(padded.subarray(432_000).every((v) => v === 0));
  });
});

describe('fusionRanges (np.array_split(range(total - 1001 + 1), 3))', () => {
  // Expected values printed by numpy 2.4: np.array_split(list(range(0, total - 1001 + 1)), 3).
  test('splits like numpy, the extra start to the front part', () => {
    assert.deepEqual(fusionRanges(1010, 1001), [[0, 3], [4, 6], [7, 9]]);
  });
  test('empty middle/back thirds fall back to [0]', () => {
    assert.deepEqual(fusionRanges(1002, 1001), [[0, 0], [1, 1], [0, 0]]);
    assert.deepEqual(fusionRanges(1001, 1001), [[0, 0], [0, 0], [0, 0]]);
  });
  test('37-s clip: 3701 frames, 2701 starts → 901, 900, 900', () => {
    assert.deepEqual(fusionRanges(3701, 1001), [[0, 900], [901, 1800], [1801, 2700]]);
  });
});

describe('clipFeatures', () => {
  const extractor = new LogMelExtractor('htk');

  test('3-s clip, fusion: four identical copies of the repeatpadded mel, not longer', () => {
    const pcm = clip(3);
    const { features, crops } = clipFeaturesWithCrops(pcm, { truncation: 'fusion', filterBank: 'htk', seed: 1 });
    assert.deepEqual(features.shape, [4, 1001, 64]);
    assert.equal(features.longer, false);
    assert.equal(crops.kind, 'repeatpad');
    const expected = extractor.compute(repeatPad(pcm, 480_000)).data;
    for (let v = 0; v < 4; v++) assert.deepEqual(view(features, v), expected);
  });

  test('3-s clip, rand_trunc: one view', () => {
    const features = clipFeatures(clip(3), { truncation: 'rand_trunc', filterBank: 'slaney', seed: 1 });
    assert.deepEqual(features.shape, [1, 1001, 64]);
    assert.equal(features.longer, false);
    assert.deepEqual(features.data, new LogMelExtractor('slaney').compute(repeatPad(clip(3), 480_000)).data);
  });

  test('exactly 10 s: no padding, no crop', () => {
    const pcm = clip(10);
    const features = clipFeatures(pcm, { truncation: 'fusion', filterBank: 'htk', seed: 5 });
    assert.deepEqual(features.shape, [4, 1001, 64]);
    assert.equal(features.longer, false);
    assert.deepEqual(view(features, 3), extractor.compute(pcm).data);
  });

  test('10 s plus less than a hop: the whole mel is one window (LAION corner case)', () => {
    const { features, crops } = clipFeaturesWithCrops(clip(10.005), { truncation: 'fusion', filterBank: 'htk', seed: 5 });
    assert.equal(crops.kind, 'whole');
    assert.equal(features.longer, false);
    assert.deepEqual(view(features, 0), view(features, 2));
  });

  test('37-s clip, fusion: global view + three crops from the front, middle and back thirds', () => {
    const pcm = clip(37);
    const { features, crops } = clipFeaturesWithCrops(pcm, { truncation: 'fusion', filterBank: 'htk', seed: 11 });
    assert.deepEqual(features.shape, [4, 1001, 64]);
    assert.equal(features.longer, true);
    assert.equal(crops.kind, 'fusion');
    const [front, middle, back] = crops.frameOffsets!;
    assert.ok(front >= 0 && front <= 900, `front ${front}`);
    assert.ok(middle >= 901 && middle <= 1800, `middle ${middle}`);
    assert.ok(back >= 1801 && back <= 2700, `back ${back}`);
    const whole = extractor.compute(pcm);
    assert.equal(whole.frames, 3701);
    assert.deepEqual(view(features, 0), resizeFrames(whole, 1001).data);
    for (const [v, offset] of [front, middle, back].entries()) assert.deepEqual(view(features, v + 1), whole.data.subarray(offset * 64, (offset + 1001) * 64));
  });

  test('37-s clip, rand_trunc: the mel of one 10-s crop of the waveform', () => {
    const pcm = clip(37);
    const { features, crops } = clipFeaturesWithCrops(pcm, { truncation: 'rand_trunc', filterBank: 'slaney', seed: 3 });
    assert.deepEqual(features.shape, [1, 1001, 64]);
    assert.equal(features.longer, true);
    const offset = crops.sampleOffset!;
    assert.ok(offset >= 0 && offset <= pcm.length - 480_000);
    assert.deepEqual(features.data, new LogMelExtractor('slaney').compute(pcm.subarray(offset, offset + 480_000)).data);
  });

  test('seeded: the same seed reproduces the crops, other seeds move them', () => {
    const pcm = clip(37);
    const run = (seed: number | string) => clipFeaturesWithCrops(pcm, { truncation: 'fusion', filterBank: 'htk', seed });
    assert.deepEqual(run(42).crops, run(42).crops);
    assert.deepEqual(run('key-abc').features.data, run('key-abc').features.data);
    const offsets = new Set([1, 2, 3, 4, 5, 6].map((seed) => run(seed).crops.frameOffsets!.join(',')));
    assert.ok(offsets.size >= 5, `crops barely move with the seed: ${[...offsets].join(' | ')}`);
  });

  test('an empty clip is refused', () => {
    assert.throws(() => clipFeatures(new Float32Array(0), { truncation: 'fusion', filterBank: 'htk', seed: 1 }), /empty/);
  });
});
