/**
 * Real audio files made by ffmpeg from lavfi sources (sine / anullsrc), for the demo's providers
 * and the tests. Containers are forced with `-f`, so any file name works.
 */
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { runFfmpeg } from '../../infra/ffmpeg/run-ffmpeg.ts';

export type ToneFormat = 'wav' | 'aiff' | 'flac' | 'mp3' | 'ogg' | 'm4a';

export interface ToneSpec {
  seconds: number;
  sampleRate: number;
  channels: number;
  format: ToneFormat;
  /** PCM containers (wav, aiff) and flac (16 or 24 only); ignored for lossy formats. Default 16. */
  bitDepth?: 8 | 16 | 24 | 32;
  /** Digital silence instead of a 440 Hz sine. */
  silent?: boolean;
  /** Defaults to locateFfmpeg(). */
  ffmpegPath?: string;
}

const MUXER: Record<ToneFormat, string> = { wav: 'wav', aiff: 'aiff', flac: 'flac', mp3: 'mp3', ogg: 'ogg', m4a: 'ipod' };

function codecArgs(format: ToneFormat, bits: 8 | 16 | 24 | 32): string[] {
  switch (format) {
    case 'wav':
      return ['-c:a', { 8: 'pcm_u8', 16: 'pcm_s16le', 24: 'pcm_s24le', 32: 'pcm_s32le' }[bits]];
    case 'aiff':
      return ['-c:a', { 8: 'pcm_s8', 16: 'pcm_s16be', 24: 'pcm_s24be', 32: 'pcm_s32be' }[bits]];
    case 'flac':
      if (bits !== 16 && bits !== 24) throw new Error(`ffmpeg's FLAC encoder writes 16 or 24 bits, not ${bits}`);
      return ['-c:a', 'flac', '-sample_fmt', bits === 16 ? 's16' : 's32'];
    case 'mp3':
      return ['-c:a', 'libmp3lame', '-b:a', '128k'];
    case 'ogg':
      return ['-c:a', 'libvorbis'];
    case 'm4a':
      return ['-c:a', 'aac', '-b:a', '128k'];
  }
}

/** Writes a tone (or silence) of the given shape to `path`. */
export async function makeTone(path: string, spec: ToneSpec): Promise<void> {
  const { seconds, sampleRate, channels, format } = spec;
  const source = spec.silent
    ? `anullsrc=r=${sampleRate}:cl=mono`
    : `sine=frequency=440:sample_rate=${sampleRate}:duration=${seconds}`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', source,
    '-t', String(seconds),
    '-ac', String(channels),
    ...codecArgs(format, spec.bitDepth ?? 16),
    '-f', MUXER[format],
    `file:${path}`,
  ];
  const result = await runFfmpeg(spec.ffmpegPath ?? (await locateFfmpeg()), args);
  if (result.code !== 0) throw new Error(`makeTone(${path}) failed: ${result.stderr.trim()}`);
}
