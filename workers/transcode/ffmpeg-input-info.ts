/**
 * Pure parser for the input section ffmpeg prints to stderr (`-hide_banner`, loglevel info):
 *
 *   Input #1, wav, from 'file:/clips/a.wav':
 *     Duration: 00:00:01.00, bitrate: 13824 kb/s
 *     Stream #1:0: Audio: pcm_s24le ([1][0][0][0] / 0x0001), 96000 Hz, 5.1, s32 (24 bit), 13824 kb/s
 *
 * We read this instead of running ffprobe so one ffmpeg process both describes and converts a batch.
 */

export interface InputInfo {
  /** ffmpeg's input index (position of the `-i` in the command line). */
  index: number;
  /** Demuxer name(s), e.g. `wav`, `mov,mp4,m4a,3gp,3g2,mj2`. */
  format: string;
  /** The input argument exactly as ffmpeg echoed it (including any `file:` prefix). */
  url: string;
  /** Container duration; a header claim, not a measurement (null for `N/A`). */
  durationSec: number | null;
  /** Codec of the first audio stream; null when the input has no audio stream ffmpeg could describe. */
  codec: string | null;
  sampleRate: number | null;
  channels: number | null;
  /** The layout text as printed (`stereo`, `5.1(side)`, `6 channels`). */
  channelLayout: string | null;
  /** Decoder output sample format (`s16`, `s32`, `fltp`), without the `(24 bit)` note. */
  sampleFormat: string | null;
  /** Bits per sample of the source, only for PCM/lossless codecs where the number means something. */
  bitDepth: number | null;
}

const INPUT_LINE = /^Input #(\d+), (.*?), from '(.*)':\s*$/;
const DURATION_LINE = /^ {2}Duration: ([^,]+),/;
// `Stream #0:0`, `Stream #3:0[0x1](und)`, `Stream #0:0(eng)`; programs indent streams deeper.
const STREAM_LINE = /^\s+Stream #(\d+):(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (\w+): (.*)$/;

/** Parses every `Input #N` block; inputs ffmpeg never reached (it stops at the first bad one) are absent. */
export function parseInputInfo(stderr: string): InputInfo[] {
  const inputs: InputInfo[] = [];
  let current: InputInfo | null = null;
  for (const rawLine of stderr.split(/\r?\n/)) {
    const line = rawLine.replace(/\r/g, '');
    const input = INPUT_LINE.exec(line);
    if (input) {
      current = {
        index: Number(input[1]),
        format: input[2] ?? '',
        url: input[3] ?? '',
        durationSec: null,
        codec: null,
        sampleRate: null,
        channels: null,
        channelLayout: null,
        sampleFormat: null,
        bitDepth: null,
      };
      inputs.push(current);
      continue;
    }
    if (current === null) continue;
    // Any unindented line (`Stream mapping:`, `Output #0`, `[mp3 @ 0x…] …`) ends the block.
    if (!/^\s/.test(line)) {
      current = null;
      continue;
    }
    const duration = DURATION_LINE.exec(line);
    if (duration) {
      current.durationSec = parseTimestamp(duration[1] ?? '');
      continue;
    }
    const stream = STREAM_LINE.exec(line);
    if (stream && Number(stream[1]) === current.index && stream[3] === 'Audio' && current.codec === null) {
      Object.assign(current, parseAudioStream(stream[4] ?? ''));
    }
  }
  return inputs;
}

/** `HH:MM:SS.xx` → seconds; null for `N/A` or anything unexpected. */
export function parseTimestamp(text: string): number | null {
  const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

type AudioFields = Pick<InputInfo, 'codec' | 'sampleRate' | 'channels' | 'channelLayout' | 'sampleFormat' | 'bitDepth'>;

/** The part after `Audio: `, e.g. `aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 127 kb/s (default)`. */
export function parseAudioStream(description: string): AudioFields {
  const parts = splitTopLevel(description);
  const codec = (parts[0] ?? '').trim().split(/\s+/)[0] || null;
  const rateAt = parts.findIndex((part) => /^\d+ Hz$/.test(part));
  const sampleRate = rateAt >= 0 ? Number.parseInt(parts[rateAt] ?? '', 10) : null;
  const channelLayout = rateAt >= 0 ? (parts[rateAt + 1] ?? null) : null;
  const formatPart = rateAt >= 0 ? (parts[rateAt + 2] ?? null) : null;
  const formatMatch = formatPart === null ? null : /^(\w+)(?: \((\d+) bit\))?/.exec(formatPart);
  const sampleFormat = formatMatch?.[1] ?? null;
  const rawBits = formatMatch?.[2] === undefined ? null : Number(formatMatch[2]);
  return {
    codec,
    sampleRate,
    channelLayout,
    channels: channelLayout === null ? null : channelCount(channelLayout),
    sampleFormat,
    bitDepth: codec === null ? null : bitDepthOf(codec, sampleFormat, rawBits),
  };
}

/** Splits on commas outside parentheses/brackets (codec tags like `(mp4a / 0x6134706D)` stay whole). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[') depth++;
    else if ((ch === ')' || ch === ']') && depth > 0) depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

const NAMED_LAYOUTS: Readonly<Record<string, number>> = {
  mono: 1,
  stereo: 2,
  downmix: 2,
  quad: 4,
  hexagonal: 6,
  octagonal: 8,
  cube: 8,
  hexadecagonal: 16,
};

/**
 * Channel count of an ffmpeg layout description: named layouts, numeric `5.1`/`7.1.4` (the parts
 * add up: 5.1 → 6), `6 channels`, `ambisonic 1`, or an explicit `FL+FR+LFE` list. Variants such as
 * `5.1(side)` or `7.1(wide-side)` count like their base. Null if unrecognised.
 */
export function channelCount(layout: string): number | null {
  const text = layout.trim();
  const explicit = /^(\d+) channels?\b/.exec(text);
  if (explicit) return Number(explicit[1]);
  const ambisonic = /^ambisonic (\d+)(.*)$/.exec(text);
  if (ambisonic) {
    const order = Number(ambisonic[1]);
    const extra = (ambisonic[2] ?? '').split('+').filter((name) => name.trim() !== '').length;
    return (order + 1) ** 2 + extra;
  }
  const base = text.replace(/\(.*\)$/, '');
  const named = NAMED_LAYOUTS[base];
  if (named !== undefined) return named;
  if (/^\d+(\.\d+)+$/.test(base)) return base.split('.').reduce((sum, n) => sum + Number(n), 0);
  if (/^[A-Z]+[A-Za-z0-9]*(\+[A-Z]+[A-Za-z0-9]*)+$/.test(base)) return base.split('+').length;
  return null;
}

// Codecs whose sample format reflects the source's real resolution; for lossy codecs (mp3, aac,
// vorbis, opus) `fltp`/`s16p` is just the decoder's working format, so we report no bit depth.
const LOSSLESS_CODECS = new Set(['flac', 'alac', 'wavpack', 'ape', 'tta', 'mlp', 'truehd', 'shorten', 'tak']);
const SAMPLE_FORMAT_BITS: Readonly<Record<string, number>> = {
  u8: 8, u8p: 8, s16: 16, s16p: 16, s32: 32, s32p: 32, s64: 64, s64p: 64, flt: 32, fltp: 32, dbl: 64, dblp: 64,
};

function bitDepthOf(codec: string, sampleFormat: string | null, rawBits: number | null): number | null {
  const pcm = /^pcm_[suf](\d+)/.exec(codec);
  if (pcm) return Number(pcm[1]);
  if (codec.startsWith('pcm_')) return null; // a-law, µ-law, etc.: companded, no plain bit depth
  if (!LOSSLESS_CODECS.has(codec)) return null;
  if (rawBits !== null) return rawBits; // `s32 (24 bit)`: 24-bit audio carried in 32-bit samples
  return sampleFormat === null ? null : (SAMPLE_FORMAT_BITS[sampleFormat] ?? null);
}
