import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelCount, parseAudioStream, parseInputInfo, parseTimestamp } from '../../workers/transcode/ffmpeg-input-info.ts';
import {
  BATCH_12_INPUTS_FAILS_MIDWAY,
  BATCH_OPEN_FAILURE_41,
  NO_AUDIO_STREAM,
  TEXT_AS_WAV,
  TRUNCATED_FLAC_DECODES_PARTLY,
} from '../fixtures/ffmpeg-stderr.ts';

describe('parseInputInfo (real ffmpeg 5.1 stderr)', () => {
  const inputs = parseInputInfo(BATCH_12_INPUTS_FAILS_MIDWAY);

  it('finds every input block of a 12-input batch, in order, and ignores the Output blocks', () => {
    assert.deepEqual(
      inputs.map((i) => i.index),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
  });

  it('reads a 16-bit 44.1 kHz stereo WAV', () => {
    assert.deepEqual(inputs[0], {
      index: 0,
      format: 'wav',
      url: 'file:tone 44k stereo.wav',
      durationSec: 1.5,
      codec: 'pcm_s16le',
      sampleRate: 44100,
      channels: 2,
      channelLayout: 'stereo',
      sampleFormat: 's16',
      bitDepth: 16,
    });
  });

  it('reads 24-bit 96 kHz 5.1 PCM carried in s32', () => {
    const six = inputs[1]!;
    assert.equal(six.codec, 'pcm_s24le');
    assert.equal(six.sampleRate, 96000);
    assert.equal(six.channels, 6);
    assert.equal(six.channelLayout, '5.1');
    assert.equal(six.sampleFormat, 's32');
    assert.equal(six.bitDepth, 24);
  });

  it('reads multichannel FLAC, float WAV and a layout ffmpeg only knows as "10 channels"', () => {
    assert.deepEqual([inputs[2]!.codec, inputs[2]!.channels, inputs[2]!.bitDepth], ['flac', 6, 16]);
    assert.deepEqual([inputs[3]!.codec, inputs[3]!.channels, inputs[3]!.channelLayout, inputs[3]!.bitDepth], ['pcm_f32le', 8, '7.1', 32]);
    assert.deepEqual([inputs[4]!.channels, inputs[4]!.channelLayout, inputs[4]!.sampleRate], [10, '10 channels', 16000]);
  });

  it('gives lossy codecs no bit depth', () => {
    const mp3 = inputs[5]!;
    assert.deepEqual([mp3.format, mp3.codec, mp3.sampleRate, mp3.channels, mp3.sampleFormat, mp3.bitDepth], ['mp3', 'mp3', 44100, 2, 'fltp', null]);
    assert.equal(mp3.durationSec, 2.04);
    assert.equal(inputs[7]!.codec, 'vorbis');
    assert.equal(inputs[7]!.bitDepth, null);
  });

  it('keeps a demuxer list with commas whole and reads a stream with [id](lang) tags', () => {
    const m4a = inputs[6]!;
    assert.equal(m4a.format, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(m4a.codec, 'aac');
    assert.equal(m4a.sampleRate, 44100);
    assert.equal(m4a.channels, 2);
  });

  it('reads AIFF and 8-bit unsigned WAV', () => {
    assert.deepEqual([inputs[8]!.format, inputs[8]!.codec, inputs[8]!.bitDepth, inputs[8]!.channels], ['aiff', 'pcm_s16be', 16, 1]);
    assert.deepEqual([inputs[9]!.codec, inputs[9]!.sampleRate, inputs[9]!.sampleFormat, inputs[9]!.bitDepth], ['pcm_u8', 8000, 'u8', 8]);
  });

  it("keeps a path with a quote and accents, and reads the 2.1 layout as 3 channels", () => {
    assert.equal(inputs[10]!.url, "file:résumé 'quoted'.flac");
    assert.equal(inputs[10]!.channels, 3);
    assert.equal(inputs[10]!.bitDepth, 24);
  });

  it('takes the first audio stream even when a video stream comes first', () => {
    const mkv = inputs[11]!;
    assert.equal(mkv.format, 'matroska,webm');
    assert.equal(mkv.codec, 'vorbis');
    assert.equal(mkv.sampleRate, 24000);
    assert.equal(mkv.durationSec, 1.01);
  });

  it('stops at the first input ffmpeg could not open', () => {
    assert.deepEqual(
      parseInputInfo(TEXT_AS_WAV).map((i) => i.url),
      ['file:tone 44k stereo.wav'],
    );
  });

  it('reports an input without audio with a null codec and N/A duration as null', () => {
    const png = parseInputInfo(NO_AUDIO_STREAM)[1]!;
    assert.equal(png.format, 'png_pipe');
    assert.equal(png.durationSec, null);
    assert.equal(png.codec, null);
    assert.equal(png.sampleRate, null);
  });

  it('reports the header duration of a truncated file (a claim, not a measurement)', () => {
    assert.equal(parseInputInfo(TRUNCATED_FLAC_DECODES_PARTLY)[1]!.durationSec, 3);
  });

  it('reads ffmpeg 4.1 output (streams indented by four spaces)', () => {
    const old = parseInputInfo(BATCH_OPEN_FAILURE_41);
    assert.equal(old.length, 4);
    assert.deepEqual(
      old.map((i) => [i.codec, i.sampleRate, i.channels]),
      [
        ['pcm_s16le', 44100, 2],
        ['pcm_s24le', 96000, 6],
        ['aac', 44100, 2],
        ['mp3', 44100, 2],
      ],
    );
  });

  it('returns nothing for text without input blocks', () => {
    assert.deepEqual(parseInputInfo(''), []);
    assert.deepEqual(parseInputInfo('file:x.wav: No such file or directory\n'), []);
  });
});

describe('channelCount', () => {
  const cases: [string, number][] = [
    ['mono', 1],
    ['stereo', 2],
    ['downmix', 2],
    ['2.1', 3],
    ['3.0', 3],
    ['3.0(back)', 3],
    ['quad', 4],
    ['quad(side)', 4],
    ['4.0', 4],
    ['4.1', 5],
    ['5.0', 5],
    ['5.0(side)', 5],
    ['5.1', 6],
    ['5.1(side)', 6],
    ['6.0(front)', 6],
    ['hexagonal', 6],
    ['6.1', 7],
    ['6.1(back)', 7],
    ['7.0', 7],
    ['7.1', 8],
    ['7.1(wide-side)', 8],
    ['octagonal', 8],
    ['5.1.2', 8],
    ['7.1.4', 12],
    ['hexadecagonal', 16],
    ['22.2', 24],
    ['1 channels', 1],
    ['10 channels', 10],
    ['3 channels (FL+FR+LFE)', 3],
    ['FL+FR+LFE', 3],
    ['ambisonic 1', 4],
  ];
  for (const [layout, count] of cases) {
    it(`${layout} → ${count}`, () => assert.equal(channelCount(layout), count));
  }
  it('returns null for an unknown description', () => assert.equal(channelCount('mystery'), null));
});

describe('parseAudioStream / parseTimestamp', () => {
  it('derives bit depth from PCM codec names and lossless sample formats only', () => {
    assert.equal(parseAudioStream('pcm_s24be, 48000 Hz, stereo, s32 (24 bit), 2304 kb/s').bitDepth, 24);
    assert.equal(parseAudioStream('pcm_s32le ([1][0][0][0] / 0x0001), 48000 Hz, mono, s32, 1536 kb/s').bitDepth, 32);
    assert.equal(parseAudioStream('pcm_mulaw ([7][0][0][0] / 0x0007), 8000 Hz, mono, s16, 64 kb/s').bitDepth, null);
    assert.equal(parseAudioStream('alac (alac / 0x63616C61), 44100 Hz, stereo, s16p, 1000 kb/s').bitDepth, 16);
    assert.equal(parseAudioStream('opus, 48000 Hz, stereo, fltp').bitDepth, null);
  });

  it('tolerates a stream with no rate or layout', () => {
    assert.deepEqual(parseAudioStream('none'), {
      codec: 'none',
      sampleRate: null,
      channels: null,
      channelLayout: null,
      sampleFormat: null,
      bitDepth: null,
    });
  });

  it('parses long and fractional timestamps', () => {
    assert.equal(parseTimestamp('01:00:00.00'), 3600);
    assert.equal(parseTimestamp('123:04:05.5'), 123 * 3600 + 4 * 60 + 5.5);
    assert.equal(parseTimestamp('N/A'), null);
  });
});
