import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blameInput, outputError, summarizeFailure, unmixableChannels } from '../../workers/transcode/ffmpeg-errors.ts';
import {
  BATCH_12_INPUTS_FAILS_MIDWAY,
  BATCH_OPEN_FAILURE_41,
  CUT_FLAC_AT_OPEN,
  CUT_MP3_AT_OPEN,
  NO_AUDIO_STREAM,
  TEXT_AS_WAV,
  TRUNCATED_FLAC_DECODES_PARTLY,
  UNWRITABLE_OUTPUT,
} from '../fixtures/ffmpeg-stderr.ts';

describe('blameInput (real ffmpeg stderr)', () => {
  it('blames a text file named .wav at open time', () => {
    assert.deepEqual(blameInput(TEXT_AS_WAV, ['file:tone 44k stereo.wav', 'file:notes.wav']), {
      index: 1,
      stage: 'open',
      message: 'ffmpeg could not read the file: Invalid data found when processing input',
    });
  });

  it('blames an input with no audio stream', () => {
    assert.deepEqual(blameInput(NO_AUDIO_STREAM, ['file:tone 44k stereo.wav', 'file:cover.png']), {
      index: 1,
      stage: 'open',
      message: 'the file has no audio stream',
    });
  });

  it("adds the demuxer's own complaint to ffmpeg's terse verdict", () => {
    const blame = blameInput(CUT_MP3_AT_OPEN, ['file:clip.ogg', 'file:cut.mp3']);
    assert.equal(blame?.index, 1);
    assert.equal(blame?.message, 'ffmpeg could not read the file: Invalid argument ([mp3] Failed to read frame size: Could not seek to 1138.)');
  });

  it('blames the first input in a single-input failure', () => {
    assert.deepEqual(blameInput(CUT_FLAC_AT_OPEN, ['file:cut.flac']), {
      index: 0,
      stage: 'open',
      message: 'ffmpeg could not read the file: Input/output error',
    });
  });

  it('works with ffmpeg 4.1 output', () => {
    const args = ['file:tone 44k stereo.wav', 'file:six.ch.24bit.wav', 'file:clip.m4a', 'file:clip.mp3', 'file:notes.wav'];
    assert.equal(blameInput(BATCH_OPEN_FAILURE_41, args)?.index, 4);
  });

  it('matches the longest input argument when one is a prefix of another', () => {
    const stderr = 'file:a.wav.wav: Invalid data found when processing input\n';
    assert.equal(blameInput(stderr, ['file:a.wav', 'file:a.wav.wav'])?.index, 1);
  });

  it('blames an input that broke the run midway, as a candidate for a run of its own', () => {
    const blame = blameInput(BATCH_12_INPUTS_FAILS_MIDWAY, Array.from({ length: 12 }, (_, i) => `file:in${i}`));
    assert.equal(blame?.index, 4);
    assert.equal(blame?.stage, 'convert');
    assert.match(blame?.message ?? '', /Error while processing the decoded data for stream #4:0/);
  });

  it('blames nobody for decode warnings after conversion began, or for an output problem', () => {
    assert.equal(blameInput(TRUNCATED_FLAC_DECODES_PARTLY, ['file:tone 44k stereo.wav', 'file:trunc.flac']), null);
    assert.equal(blameInput(UNWRITABLE_OUTPUT, ['file:clip.ogg']), null);
  });

  it('falls back to the first input ffmpeg never described', () => {
    const stderr = 'Input #0, wav, from \'file:a.wav\':\n  Duration: 00:00:01.00, bitrate: 1 kb/s\nsomething odd happened\n';
    assert.deepEqual(blameInput(stderr, ['file:a.wav', 'file:b.wav']), {
      index: 1,
      stage: 'open',
      message: 'ffmpeg could not read the file: something odd happened',
    });
  });
});

describe('outputError / summarizeFailure / unmixableChannels', () => {
  it('recognises a failure to write our own output', () => {
    assert.equal(outputError(UNWRITABLE_OUTPUT, ['file:/nonexistent/dir/x.flac']), 'file:/nonexistent/dir/x.flac: No such file or directory');
    assert.equal(outputError(TEXT_AS_WAV, ['file:out/0.flac']), null);
  });

  it('summarises a failure by its most specific line', () => {
    assert.equal(summarizeFailure(NO_AUDIO_STREAM, 'x'), 'the file has no audio stream');
    assert.equal(summarizeFailure(CUT_FLAC_AT_OPEN, 'x'), 'ffmpeg failed: file:cut.flac: Input/output error');
    assert.equal(summarizeFailure('', 'ffmpeg exited with code 1'), 'ffmpeg exited with code 1');
  });

  it('finds the channel count ffmpeg could not downmix', () => {
    assert.equal(unmixableChannels(BATCH_12_INPUTS_FAILS_MIDWAY), 10);
    assert.equal(unmixableChannels(TEXT_AS_WAV), null);
  });
});
