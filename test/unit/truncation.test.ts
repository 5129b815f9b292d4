import assert from 'node:assert/strict';
import { test } from 'node:test';
import { truncationProblem } from '../../workers/transcode/truncation.ts';

const outcome = (decoded: number, declared: number | null) => ({
  durationSec: decoded,
  source: { format: 'flac', codec: 'flac', sampleRate: 44100, channels: 2, bitDepth: 16, durationSec: declared },
});

test('a clip decoding to about its declared length is fine', () => {
  assert.equal(truncationProblem(outcome(3, 3)), null);
  assert.equal(truncationProblem(outcome(2.98, 3.02)), null, 'encoder priming');
  assert.equal(truncationProblem(outcome(95, 100)), null, 'within 10% (VBR MP3 estimates)');
  assert.equal(truncationProblem(outcome(3, null)), null, 'nothing declared');
});

test('a clip decoding to far less than declared is truncated', () => {
  assert.match(truncationProblem(outcome(1.15, 3))!, /truncated: decoded 1\.15 s of the 3\.00 s/);
  assert.ok(truncationProblem(outcome(80, 100)));
});
