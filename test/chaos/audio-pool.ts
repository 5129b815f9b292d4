/**
 * The audio the chaos run's providers serve: a small pool of distinct real files (made once by
 * ffmpeg) that thousands of clip ids share, corrupt variants of them, and the oversize answers that
 * test the download cap. Each file says what the pipeline must make of it.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import type { AudioOverride } from '../../demo/providers/common.ts';
import { makeTone, type ToneSpec } from '../../demo/providers/tone.ts';
import { makeTextAsWav, makeTruncated, makeZeroByte } from '../helpers/audio-fixtures.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

/** What a clip must end as: a sample, a filtered clip, or a counted failure (reason when it is certain). */
export type Expectation = { outcome: 'ok' } | { outcome: 'filtered'; reason: string } | { outcome: 'failed'; reason?: string };

export interface PoolFile extends AudioOverride {
  name: string;
  expect: Expectation;
}

export interface AudioPool {
  dir: string;
  /** MP3 previews for Freesound (mostly good; the 8 kHz one is filtered). */
  previews: PoolFile[];
  /** WAVs for BBC (mostly good; 8 kHz and over-long ones are filtered). */
  wavs: PoolFile[];
  /** Files that must end as failures, in varied ways. */
  corrupt: PoolFile[];
  /** Announces more bytes than the cap: refused before reading, counted `too_large`. */
  oversize: PoolFile;
  /** A small gzip body that inflates past `bombBytes` (only when asked for): cut off while streaming. */
  bomb: PoolFile | null;
  cleanup(): Promise<void>;
}

const OK: Expectation = { outcome: 'ok' };
const tone = (seconds: number, sampleRate: number, channels: number, format: ToneSpec['format'], bitDepth?: ToneSpec['bitDepth']): ToneSpec => ({
  seconds,
  sampleRate,
  channels,
  format,
  ...(bitDepth ? { bitDepth } : {}),
});

/**
 * Makes the pool in a fresh temp folder. `bombBytes` (e.g. just over the workers' 2 GiB cap) adds a
 * gzip bomb made of repeated gzip members, so it costs megabytes on disk, not gigabytes.
 */
export async function makeAudioPool(options: { seed: string; bombBytes?: number }): Promise<AudioPool> {
  const dir = await mkdtemp(join(tmpdir(), 'clapset-chaos-audio-'));
  const path = (name: string) => join(dir, name);
  const mp3 = (name: string, expect: Expectation = OK): PoolFile => ({ name, path: path(name), contentType: 'audio/mpeg', expect });
  const wav = (name: string, expect: Expectation = OK): PoolFile => ({ name, path: path(name), contentType: 'audio/wav', expect });

  const previewSpecs: [string, ToneSpec, Expectation?][] = [
    ['p-0.6s-44k-st.mp3', tone(0.6, 44100, 2, 'mp3')],
    ['p-1s-22k-mono.mp3', tone(1, 22050, 1, 'mp3')],
    ['p-1.5s-48k-st.mp3', tone(1.5, 48000, 2, 'mp3')],
    ['p-2s-32k-mono.mp3', tone(2, 32000, 1, 'mp3')],
    ['p-2.5s-44k-mono.mp3', tone(2.5, 44100, 1, 'mp3')],
    ['p-3s-44k-st.mp3', tone(3, 44100, 2, 'mp3')],
    ['p-4s-24k-st.mp3', tone(4, 24000, 2, 'mp3')],
    ['p-5s-48k-mono.mp3', tone(5, 48000, 1, 'mp3')],
    ['p-6s-16k-mono.mp3', tone(6, 16000, 1, 'mp3')],
    ['p-2s-8k-mono.mp3', tone(2, 8000, 1, 'mp3'), { outcome: 'filtered', reason: 'sample_rate_below_min' }],
  ];
  const wavSpecs: [string, ToneSpec, Expectation?][] = [
    ['w-0.5s-48k-mono.wav', tone(0.5, 48000, 1, 'wav')],
    ['w-1s-44k-st.wav', tone(1, 44100, 2, 'wav')],
    ['w-1.5s-96k-st-24.wav', tone(1.5, 96000, 2, 'wav', 24)],
    ['w-2s-16k-mono.wav', tone(2, 16000, 1, 'wav')],
    ['w-3s-48k-st.wav', tone(3, 48000, 2, 'wav')],
    ['w-4s-22k-mono.wav', tone(4, 22050, 1, 'wav')],
    ['w-5s-48k-mono-24.wav', tone(5, 48000, 1, 'wav', 24)],
    ['w-7s-32k-st.wav', tone(7, 32000, 2, 'wav')],
    ['w-1s-8k-mono.wav', tone(1, 8000, 1, 'wav'), { outcome: 'filtered', reason: 'sample_rate_below_min' }],
    ['w-185s-16k-mono.wav', tone(185, 16000, 1, 'wav'), { outcome: 'filtered', reason: 'longer_than_max' }],
  ];
  const sources: Record<string, ToneSpec> = {
    'src-4s.mp3': tone(4, 44100, 2, 'mp3'),
    'src-6s.wav': tone(6, 44100, 1, 'wav'),
  };
  await Promise.all([...previewSpecs, ...wavSpecs].map(([name, spec]) => makeTone(path(name), spec)).concat(Object.entries(sources).map(([name, spec]) => makeTone(path(name), spec))));

  // Corrupt in varied ways: each must end as a counted failure, never as a sample.
  const random = new SeededRandom(`${options.seed}/noise`);
  const noise = Buffer.alloc(64 * 1024);
  for (let i = 0; i < noise.length; i++) noise[i] = random.int(0, 255);
  await Promise.all([
    makeZeroByte(path('c-zero.wav')),
    makeTextAsWav(path('c-html.wav'), '<html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>\n'),
    makeTextAsWav(path('c-html.mp3')),
    writeFile(path('c-noise.wav'), noise),
    writeFile(path('c-noise.mp3'), noise),
    makeTruncated(path('src-4s.mp3'), path('c-cut.mp3'), 0.4),
    makeTruncated(path('src-6s.wav'), path('c-cut.wav'), 0.5),
  ]);
  const corrupt: PoolFile[] = [
    wav('c-zero.wav', { outcome: 'failed', reason: 'empty_file' }),
    wav('c-html.wav', { outcome: 'failed', reason: 'decode_error' }),
    mp3('c-html.mp3', { outcome: 'failed', reason: 'decode_error' }),
    wav('c-noise.wav', { outcome: 'failed', reason: 'decode_error' }),
    mp3('c-noise.mp3', { outcome: 'failed', reason: 'decode_error' }),
    mp3('c-cut.mp3', { outcome: 'failed', reason: 'truncated' }),
    wav('c-cut.wav', { outcome: 'failed', reason: 'truncated' }),
  ];

  const oversize: PoolFile = {
    ...mp3('p-3s-44k-st.mp3', { outcome: 'failed', reason: 'too_large' }),
    name: 'oversize',
    // Far past any cap a worker uses; the client must refuse it from the header alone.
    headers: { 'content-length': String(64 * 1024 ** 3) },
  };
  const bomb = options.bombBytes === undefined ? null : await makeGzipBomb(path('bomb.mp3.gz'), options.bombBytes);
  return {
    dir,
    previews: previewSpecs.map(([name, , expect]) => mp3(name, expect)),
    wavs: wavSpecs.map(([name, , expect]) => wav(name, expect)),
    corrupt,
    oversize,
    bomb,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A gzip body that inflates to at least `bytes` zeros: one 64 MiB member compressed once (~64 KiB)
 * and repeated, since a gzip stream may hold several members and decoders read them all.
 */
async function makeGzipBomb(path: string, bytes: number): Promise<PoolFile> {
  const memberBytes = 64 * 1024 ** 2;
  const member = gzipSync(Buffer.alloc(memberBytes), { level: 9 });
  const out = createWriteStream(path);
  for (let i = 0; i < Math.ceil(bytes / memberBytes); i++) if (!out.write(member)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return {
    name: 'bomb',
    path,
    contentType: 'audio/mpeg',
    headers: { 'content-encoding': 'gzip' },
    expect: { outcome: 'failed', reason: 'too_large' },
  };
}
