import { spawn } from 'node:child_process';
import { locateFfmpeg } from '../ffmpeg/locate.ts';
import { killOnExit } from '../ffmpeg/kill-on-exit.ts';
import { BoundedText } from '../ffmpeg/run-ffmpeg.ts';

export interface DecodePcmOptions {
  /** ffmpeg binary; default `locateFfmpeg()` (FFMPEG_PATH, PATH, @ffmpeg-installer). */
  ffmpegPath?: string;
  /** Output rate; CLAP's is 48 kHz. */
  sampleRate?: number;
  /** Refuse (and kill ffmpeg) past this many output seconds, so a hostile file cannot fill memory. Default 3600. */
  maxSeconds?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Decodes any audio file ffmpeg reads into mono float32 PCM (`-ac 1 -ar <rate> -f f32le pipe:1`):
 * ffmpeg does the FLAC decoding, resampling and downmix, so the mel sees exactly what LAION's
 * ffmpeg-converted FLACs hold. stdout is collected into one growing buffer; stderr is bounded.
 */
export async function decodePcm(path: string, options: DecodePcmOptions = {}): Promise<Float32Array> {
  const ffmpegPath = options.ffmpegPath ?? (await locateFfmpeg());
  const sampleRate = options.sampleRate ?? 48_000;
  const maxBytes = Math.ceil((options.maxSeconds ?? 3600) * sampleRate) * 4;
  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    // `file:` and the whitelist keep names like `concat:…` or `pipe:1` from being read as protocols.
    '-protocol_whitelist', 'file', '-i', `file:${path}`,
    '-vn', '-ac', '1', '-ar', String(sampleRate), '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1',
  ];
  const stderr = new BoundedText(16 * 1024, 16 * 1024);
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
    killOnExit(child);
    let buffer = Buffer.allocUnsafe(1 << 20);
    let length = 0;
    let failure: Error | null = null;
    const fail = (error: Error): void => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => fail(new Error(`ffmpeg timed out after ${options.timeoutMs} ms decoding ${path}`)), options.timeoutMs);
    const onAbort = (): void => fail(new Error(`decoding ${path} was aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    child.stdout.on('data', (chunk: Buffer) => {
      if (length + chunk.length > maxBytes) {
        fail(new Error(`${path} decodes to more than ${options.maxSeconds ?? 3600} s of audio`));
        return;
      }
      if (length + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(buffer.length * 2, length + chunk.length)));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      chunk.copy(buffer, length);
      length += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      fail(new Error(`could not start ffmpeg (${ffmpegPath}): ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (code !== 0) return reject(new Error(`ffmpeg could not decode ${path} (${code === null ? `signal ${signal}` : `exit ${code}`}): ${stderr.text().trim() || 'no message'}`));
      if (length % 4 !== 0) return reject(new Error(`ffmpeg returned ${length} bytes of f32le for ${path}, not a whole number of samples`));
      // Copy into an aligned, exactly sized array (a Buffer's byteOffset may not be a multiple of 4).
      const pcm = new Float32Array(length / 4);
      new Uint8Array(pcm.buffer).set(buffer.subarray(0, length));
      resolve(pcm);
    });
  });
}
