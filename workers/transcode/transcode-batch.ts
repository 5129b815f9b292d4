import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FlacHeaderError, readFlacInfo } from '../../infra/audio/flac-info.ts';
import { readWavDeclaredDuration } from '../../infra/audio/wav-info.ts';
import { runFfmpeg, type FfmpegResult } from '../../infra/ffmpeg/run-ffmpeg.ts';
import type { FailureReason } from '../../schemas/failure.ts';
import { blameInput, outputError, summarizeFailure, unmixableChannels } from './ffmpeg-errors.ts';
import { parseInputInfo, type InputInfo } from './ffmpeg-input-info.ts';

/** LAION-Audio-630K's target: 48 kHz mono FLAC (`-vn -ar 48000 -ac 1`). */
export const TARGET_SAMPLE_RATE = 48_000;
export const TARGET_CHANNELS = 1;

export interface TranscodeInput {
  id: string;
  path: string;
}

/** What ffmpeg said about the source; header claims, null where it printed nothing usable. */
export interface SourceAudio {
  format: string | null;
  codec: string | null;
  sampleRate: number | null;
  channels: number | null;
  bitDepth: number | null;
  durationSec: number | null;
}

export interface TranscodeSuccess {
  id: string;
  ok: true;
  /** A temp file in `outDir`; the caller owns (and deletes) it. */
  outputPath: string;
  bytes: number;
  /** Measured from the output's STREAMINFO (samples / 48000), not from source metadata. */
  durationSec: number;
  /** 16 for 8/16-bit PCM sources; 24 for deeper PCM and for lossy sources ffmpeg decodes to float. */
  bitsPerSample: number;
  source: SourceAudio;
}

export interface TranscodeFailure {
  id: string;
  ok: false;
  reason: FailureReason;
  message: string;
}

export type TranscodeOutcome = TranscodeSuccess | TranscodeFailure;

export interface TranscodeOptions {
  ffmpegPath: string;
  /** Limit per input; a batch process gets this times its input count. Overruns fail the clip. */
  timeoutMs?: number;
  /** Aborting kills ffmpeg and rejects with the signal's reason. */
  signal?: AbortSignal;
}

interface Item {
  pos: number;
  id: string;
  /** The source file. */
  path: string;
  input: string;
  output: string;
  outputPath: string;
}

/**
 * Transcodes every input to 48 kHz mono FLAC in `outDir`, one outcome per input in input order.
 * One ffmpeg process serves the whole batch, since start-up dominates short clips. When that process
 * fails and ffmpeg names the input responsible, that input is taken out (failed outright if it could
 * not be opened, else retried alone) and the rest run together again; a failure pinned on no input
 * falls back to one process per input. Either way a bad file only ever fails itself.
 * Rejects only for trouble that is not the clips' fault (ffmpeg missing, unwritable outDir, abort).
 */
export async function transcodeBatch(inputs: readonly TranscodeInput[], outDir: string, options: TranscodeOptions): Promise<TranscodeOutcome[]> {
  const outcomes: (TranscodeOutcome | undefined)[] = new Array<TranscodeOutcome | undefined>(inputs.length);
  const token = randomBytes(6).toString('hex'); // outDir may be shared with sources and other batches
  const items: Item[] = [];
  for (const [pos, { id, path }] of inputs.entries()) {
    const problem = await precheck(path);
    if (problem) {
      outcomes[pos] = { id, ok: false, ...problem };
      continue;
    }
    const outputPath = join(outDir, `clapset-${token}-${pos}.flac`);
    // `file:` stops ffmpeg from reading names like `concat:…`, `pipe:1` or `-` as protocols.
    items.push({ pos, id, path, input: `file:${path}`, output: `file:${outputPath}`, outputPath });
  }

  const settle = async (item: Item, outcome: TranscodeOutcome): Promise<void> => {
    if (!outcome.ok) await rm(item.outputPath, { force: true });
    outcomes[item.pos] = outcome;
  };

  try {
    let pending = items;
    const alone: Item[] = [];
    while (pending.length > 1) {
      const result = await run(pending, options);
      if (result.code === 0 && !result.timedOut) {
        const infos = infoByIndex(result.stderr);
        const redo: Item[] = [];
        for (const [index, item] of pending.entries()) {
          const outcome = await inspectOutput(item, infos.get(index));
          // An invalid output from a batch is re-checked alone before the clip is failed.
          if (outcome.ok) await settle(item, outcome);
          else redo.push(item);
        }
        pending = redo;
        break;
      }
      const killed = result.timedOut || result.signal !== null; // partial stderr: nothing to blame
      const blamed = killed ? null : blameInput(result.stderr, pending.map((item) => item.input));
      const culprit = blamed === null ? undefined : pending[blamed.index];
      if (blamed === null || culprit === undefined) break;
      if (blamed.stage === 'open') await settle(culprit, { id: culprit.id, ok: false, reason: 'decode_error', message: blamed.message });
      else alone.push(culprit);
      pending = pending.filter((item) => item !== culprit);
    }
    for (const item of [...pending, ...alone]) await settle(item, await transcodeOne(item, options));
  } catch (error) {
    await Promise.all(items.map((item) => rm(item.outputPath, { force: true })));
    throw error;
  }
  return outcomes.map((outcome, pos) => outcome ?? { id: inputs[pos]?.id ?? '', ok: false, reason: 'invalid_output', message: 'not transcoded (internal error)' });
}

export interface TranscodeArgsItem {
  input: string;
  output: string;
  /** Average this many channels into mono explicitly, for layouts ffmpeg will not downmix itself. */
  downmixChannels?: number;
}

/** The ffmpeg arguments for a batch: all inputs, then one mapped output per input. */
export function transcodeArgs(items: readonly TranscodeArgsItem[]): string[] {
  const args = ['-hide_banner', '-nostdin', '-nostats', '-y'];
  // No network: a playlist-like file must not make ffmpeg fetch URLs.
  for (const { input } of items) args.push('-protocol_whitelist', 'file', '-i', input);
  for (const [index, { output, downmixChannels }] of items.entries()) {
    args.push('-map', `${index}:a:0`, '-vn');
    if (downmixChannels !== undefined) args.push('-af', downmixFilter(downmixChannels));
    args.push('-ar', String(TARGET_SAMPLE_RATE), '-ac', String(TARGET_CHANNELS), '-c:a', 'flac', '-f', 'flac', output);
  }
  return args;
}

/** `pan=mono|c0<c0+c1+…`: `<` renormalises the gains to sum to 1, i.e. the mean, so it cannot clip. */
export function downmixFilter(channels: number): string {
  return `pan=mono|c0<${Array.from({ length: channels }, (_, i) => `c${i}`).join('+')}`;
}

async function run(items: readonly TranscodeArgsItem[], options: TranscodeOptions): Promise<FfmpegResult> {
  const result = await runFfmpeg(options.ffmpegPath, transcodeArgs(items), {
    timeoutMs: options.timeoutMs === undefined ? undefined : options.timeoutMs * items.length,
    signal: options.signal,
  });
  if (result.aborted) throw options.signal?.reason instanceof Error ? options.signal.reason : new Error('transcode aborted');
  return result;
}

async function transcodeOne(item: Item, options: TranscodeOptions): Promise<TranscodeOutcome> {
  let result = await run([item], options);
  const channels = result.code !== 0 && !result.timedOut ? unmixableChannels(result.stderr) : null;
  if (channels !== null) result = await run([{ ...item, downmixChannels: channels }], options);
  const fail = (message: string): TranscodeFailure => ({ id: item.id, ok: false, reason: 'decode_error', message });
  if (result.timedOut) return fail(`ffmpeg did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s`);
  if (result.signal !== null) {
    // SIGKILL/SIGTERM from outside (OOM killer, shutdown) says nothing about the file: let the job retry.
    if (result.signal === 'SIGKILL' || result.signal === 'SIGTERM' || result.signal === 'SIGINT') {
      throw new Error(`ffmpeg was killed by ${result.signal} while transcoding ${item.id}`);
    }
    return fail(`ffmpeg crashed (${result.signal}) on this file`);
  }
  if (result.code !== 0) {
    const ours = outputError(result.stderr, [item.output]);
    if (ours !== null) throw new Error(`ffmpeg could not write its output: ${ours}`);
    return fail(summarizeFailure(result.stderr, `ffmpeg exited with code ${result.code}`));
  }
  return inspectOutput(item, infoByIndex(result.stderr).get(0));
}

/** Validates an output by its STREAMINFO alone: never reads the audio into memory. */
async function inspectOutput(item: Item, info: InputInfo | undefined): Promise<TranscodeOutcome> {
  const fail = (reason: FailureReason, message: string): TranscodeFailure => ({ id: item.id, ok: false, reason, message });
  let bytes: number;
  try {
    bytes = (await stat(item.outputPath)).size;
  } catch {
    return fail('invalid_output', 'ffmpeg exited normally but wrote no output file');
  }
  let flac;
  try {
    flac = await readFlacInfo(item.outputPath);
  } catch (error) {
    if (error instanceof FlacHeaderError) return fail('invalid_output', `output is not a valid FLAC: ${error.message}`);
    throw error;
  }
  if (flac.sampleRate !== TARGET_SAMPLE_RATE || flac.channels !== TARGET_CHANNELS) {
    return fail('invalid_output', `output is ${flac.sampleRate} Hz with ${flac.channels} channels, expected ${TARGET_SAMPLE_RATE} Hz mono`);
  }
  if (flac.totalSamples === 0) return fail('empty_audio', 'no audio could be decoded from the file (0 samples)');
  // ffmpeg estimates a WAV's duration from the file size, so a cut file would "declare" what it
  // decodes; the header's data chunk says what the file should hold.
  const declared = info?.format === 'wav' ? ((await readWavDeclaredDuration(item.path)) ?? info.durationSec) : (info?.durationSec ?? null);
  return {
    id: item.id,
    ok: true,
    outputPath: item.outputPath,
    bytes,
    durationSec: flac.totalSamples / TARGET_SAMPLE_RATE,
    bitsPerSample: flac.bitsPerSample,
    source: {
      format: info?.format ?? null,
      codec: info?.codec ?? null,
      sampleRate: info?.sampleRate ?? null,
      channels: info?.channels ?? null,
      bitDepth: info?.bitDepth ?? null,
      durationSec: declared,
    },
  };
}

function infoByIndex(stderr: string): Map<number, InputInfo> {
  return new Map(parseInputInfo(stderr).map((info) => [info.index, info]));
}

/** Failures we can tell without ffmpeg. Other stat errors (EACCES, EIO) are ours, so they throw. */
async function precheck(path: string): Promise<{ reason: FailureReason; message: string } | null> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: 'missing_file', message: 'the file does not exist' };
    throw error;
  }
  if (!info.isFile()) return { reason: 'decode_error', message: 'not a regular file' };
  if (info.size === 0) return { reason: 'empty_file', message: 'the file is empty (0 bytes)' };
  return null;
}
