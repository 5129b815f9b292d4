import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FLAC_HEADER_BYTES, FlacHeaderError, parseFlacHeader, readFlacInfo } from '../../infra/audio/flac-info.ts';
import { makeTone } from '../../demo/providers/tone.ts';

// First 42 bytes of FLACs written by ffmpeg 5.1 (`head -c 42 x.flac | xxd -p`).
const HEADERS = {
  /** sine, 1.5 s, 44.1 kHz stereo, -sample_fmt s16 */
  stereo16: '664c614300000022120012000002030005180ac442f000010266f3296a9e279f9d6e1261f923a8331a2c',
  /** sine, 1 s, 96 kHz 6 channels, -sample_fmt s32 (24-bit FLAC) */
  six24: '664c614300000022200020000006640008aa17700b7000017700e014915c7b2fb33e16ea2d8d0a660c4e',
  /** sine, one hour, 8 kHz mono */
  hour8k: '664c614300000022024002400000f100013a01f400f001b77400ab6ebd7f005dec26b6ecec10f09435b0',
  /** what ffmpeg writes when the input decoded to nothing: 48 kHz mono, 0 samples */
  empty: '664c614300000022120012000024150000000bb800f000000000d41d8cd98f00b204e9800998ecf8427e',
};
const hex = (text: string): Buffer => Buffer.from(text, 'hex');

describe('parseFlacHeader', () => {
  it('reads STREAMINFO of real ffmpeg-made files', () => {
    assert.deepEqual(parseFlacHeader(hex(HEADERS.stereo16)), { sampleRate: 44100, channels: 2, bitsPerSample: 16, totalSamples: 66150, durationSec: 1.5 });
    assert.deepEqual(parseFlacHeader(hex(HEADERS.six24)), { sampleRate: 96000, channels: 6, bitsPerSample: 24, totalSamples: 96000, durationSec: 1 });
    assert.deepEqual(parseFlacHeader(hex(HEADERS.hour8k)), { sampleRate: 8000, channels: 1, bitsPerSample: 16, totalSamples: 28_800_000, durationSec: 3600 });
    assert.deepEqual(parseFlacHeader(hex(HEADERS.empty)), { sampleRate: 48000, channels: 1, bitsPerSample: 16, totalSamples: 0, durationSec: 0 });
  });

  it('accepts a longer buffer (e.g. the first 64 bytes) and reads the 36-bit sample count in full', () => {
    const bytes = Buffer.concat([hex(HEADERS.stereo16), Buffer.alloc(22)]);
    bytes[21] = (bytes[21]! & 0xf0) | 0x03; // top 4 bits of the 36-bit count
    assert.equal(parseFlacHeader(bytes).totalSamples, 3 * 2 ** 32 + 66150);
  });

  it('rejects non-FLAC data with a clear message', () => {
    assert.throws(() => parseFlacHeader(Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1')), { name: 'FlacHeaderError', message: /not a FLAC file: expected magic "fLaC", found 0x52494646/ });
    assert.throws(() => parseFlacHeader(Buffer.alloc(0)), /not a FLAC file.*found 0xnothing/);
  });

  it('rejects a header cut short', () => {
    assert.throws(() => parseFlacHeader(hex(HEADERS.six24).subarray(0, 30)), { name: 'FlacHeaderError', message: 'truncated FLAC header: 30 of 42 bytes' });
  });

  it('rejects a first block that is not STREAMINFO, and impossible values', () => {
    const notStreamInfo = hex(HEADERS.six24);
    notStreamInfo[4] = 0x04; // VORBIS_COMMENT
    assert.throws(() => parseFlacHeader(notStreamInfo), /first metadata block is type 4/);
    const zeroRate = hex(HEADERS.six24);
    zeroRate.fill(0, 18, 20);
    zeroRate[20] = zeroRate[20]! & 0x0f;
    assert.throws(() => parseFlacHeader(zeroRate), /sample rate is 0/);
  });
});

describe('readFlacInfo (files made by ffmpeg now)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clapset-flac-info-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads 16- and 24-bit files of several shapes', async () => {
    const stereo = join(dir, 'stereo.flac');
    await makeTone(stereo, { seconds: 2, sampleRate: 44100, channels: 2, format: 'flac', bitDepth: 16 });
    assert.deepEqual(await readFlacInfo(stereo), { sampleRate: 44100, channels: 2, bitsPerSample: 16, totalSamples: 88200, durationSec: 2 });
    const deep = join(dir, 'deep.flac');
    await makeTone(deep, { seconds: 0.5, sampleRate: 96000, channels: 8, format: 'flac', bitDepth: 24 });
    assert.deepEqual(await readFlacInfo(deep), { sampleRate: 96000, channels: 8, bitsPerSample: 24, totalSamples: 48000, durationSec: 0.5 });
  });

  it('throws FlacHeaderError for a WAV, a text file and a file cut inside its header', async () => {
    const wav = join(dir, 'tone.wav');
    await makeTone(wav, { seconds: 0.1, sampleRate: 8000, channels: 1, format: 'wav' });
    await assert.rejects(readFlacInfo(wav), FlacHeaderError);
    const text = join(dir, 'text.flac');
    await writeFile(text, 'hello');
    await assert.rejects(readFlacInfo(text), /not a FLAC file/);
    const cut = join(dir, 'cut.flac');
    await writeFile(cut, hex(HEADERS.stereo16).subarray(0, FLAC_HEADER_BYTES - 1));
    await assert.rejects(readFlacInfo(cut), /truncated FLAC header: 41 of 42 bytes/);
  });

  it('passes a missing file as the fs error', async () => {
    await assert.rejects(readFlacInfo(join(dir, 'absent.flac')), { code: 'ENOENT' });
  });
});
