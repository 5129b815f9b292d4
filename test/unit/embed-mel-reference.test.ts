import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { repeatPad, resizeFrames } from '../../workers/embed/fusion.ts';
import { type LogMel, LogMelExtractor } from '../../workers/embed/log-mel.ts';
import { longSignal, referenceSignals, threeSecondSignal } from '../fixtures/mel-reference-signals.ts';

/**
 * clapset's log-mel against torchaudio 0.13.1 (test/fixtures/make-mel-reference.py: LAION-CLAP's
 * MelSpectrogram + AmplitudeToDB(top_db=None), and F.interpolate for the fusion global view),
 * computed in float64 on the same float32 signals. Tolerance: 1e-3 dB max abs difference; measured
 * ≈1e-5 dB (the float32 rounding of our output and the fixture's 5 decimals). torchaudio's default
 * float32 window/filters alone move quiet bins (-90 dB under a +37 dB tone) by up to 0.04 dB.
 */
const TOLERANCE_DB = 1e-3;

interface Rows {
  rows: Record<string, number[]>;
  frames: number;
}
const reference = JSON.parse(readFileSync(new URL('../fixtures/mel-reference.json', import.meta.url), 'utf8')) as {
  mel: Record<string, Rows & { samples: number }>;
  repeatpad_3s: Rows;
  fusion_global: Rows & { samples: number; source_rows: Record<string, number[]> };
};

function maxDifference(mel: LogMel, rows: Record<string, number[]>): number {
  let max = 0;
  for (const [frame, values] of Object.entries(rows)) {
    assert.equal(values.length, 64);
    values.forEach((expected, m) => {
      max = Math.max(max, Math.abs(mel.data[Number(frame) * mel.mels + m]! - expected));
    });
  }
  return max;
}

const extractors = { htk: new LogMelExtractor('htk'), slaney: new LogMelExtractor('slaney') };

describe('log-mel vs torchaudio reference', () => {
  const signals = referenceSignals();
  for (const [name, entry] of Object.entries(reference.mel)) {
    test(name, () => {
      const [signal, bank] = name.split('/') as [keyof typeof signals, 'htk' | 'slaney'];
      const pcm = signals[signal];
      assert.equal(pcm.length, entry.samples, 'signal rebuilt with the fixture length');
      const mel = extractors[bank].compute(pcm);
      assert.equal(mel.frames, entry.frames);
      const diff = maxDifference(mel, entry.rows);
      assert.ok(diff < TOLERANCE_DB, `max |Δ| = ${diff} dB`);
    });
  }

  test('the two filter banks really differ (the test above would catch a swapped bank)', () => {
    const pcm = signals.chirp_noise;
    const htk = extractors.htk.compute(pcm);
    assert.ok(maxDifference(htk, reference.mel['chirp_noise/slaney']!.rows) > 1);
  });

  test('repeatpad of a 3-s clip then mel (copy boundaries and the zero tail)', () => {
    const mel = extractors.htk.compute(repeatPad(threeSecondSignal(), 480_000));
    assert.equal(mel.frames, reference.repeatpad_3s.frames);
    assert.ok(maxDifference(mel, reference.repeatpad_3s.rows) < TOLERANCE_DB);
  });

  test('fusion global view: a 12.5-s mel resized to 1001 frames like F.interpolate(bilinear)', () => {
    const pcm = longSignal();
    assert.equal(pcm.length, reference.fusion_global.samples);
    const whole = extractors.htk.compute(pcm);
    assert.equal(whole.frames, reference.fusion_global.frames);
    assert.ok(maxDifference(whole, reference.fusion_global.source_rows) < TOLERANCE_DB);
    const shrunk = resizeFrames(whole, 1001);
    assert.ok(maxDifference(shrunk, reference.fusion_global.rows) < TOLERANCE_DB);
  });
});
