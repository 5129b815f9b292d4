import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Filters } from '../../schemas/dataset.ts';
import { filterReason } from '../../workers/transcode/filters.ts';
import type { SourceAudio } from '../../workers/transcode/transcode-batch.ts';

const source = (sampleRate: number | null): SourceAudio => ({ format: 'wav', codec: 'pcm_s16le', sampleRate, channels: 2, bitDepth: 16, durationSec: 12 });
const off: Filters = { maxDurationSec: null, minSampleRate: null };

describe('filterReason', () => {
  it('passes everything when both filters are off', () => {
    assert.equal(filterReason({ durationSec: 99_999, source: source(8000) }, off), null);
  });

  it('drops clips longer than maxDurationSec, measured on the output', () => {
    const filters = { ...off, maxDurationSec: 10 };
    assert.deepEqual(filterReason({ durationSec: 10.5, source: source(44100) }, filters), {
      reason: 'longer_than_max',
      message: 'duration 10.5 s exceeds the maximum of 10 s',
    });
    assert.equal(filterReason({ durationSec: 10, source: source(44100) }, filters), null, 'exactly the maximum is kept');
  });

  it('drops clips whose source rate is below minSampleRate', () => {
    const filters = { ...off, minSampleRate: 16000 };
    assert.deepEqual(filterReason({ durationSec: 3, source: source(8000) }, filters), {
      reason: 'sample_rate_below_min',
      message: 'source sample rate 8000 Hz is below the minimum of 16000 Hz',
    });
    assert.equal(filterReason({ durationSec: 3, source: source(16000) }, filters), null);
  });

  it('keeps a clip whose source rate is unknown', () => {
    assert.equal(filterReason({ durationSec: 3, source: source(null) }, { ...off, minSampleRate: 16000 }), null);
  });

  it('reports duration first when both apply', () => {
    const verdict = filterReason({ durationSec: 20, source: source(8000) }, { maxDurationSec: 10, minSampleRate: 16000 });
    assert.equal(verdict?.reason, 'longer_than_max');
  });
});
