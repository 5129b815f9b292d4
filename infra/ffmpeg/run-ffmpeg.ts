import { spawn } from 'node:child_process';
import { killOnExit } from './kill-on-exit.ts';

export interface RunFfmpegOptions {
  /** Kill ffmpeg (SIGKILL) after this many milliseconds and report `timedOut`. */
  timeoutMs?: number;
  /** Cancels the run the same way (e.g. a job being shut down). */
  signal?: AbortSignal;
  /** Bytes of stderr kept from the start (the input section lives there). Default 256 KiB. */
  stderrHeadBytes?: number;
  /** Bytes of stderr kept from the end (the final errors live there). Default 256 KiB. */
  stderrTailBytes?: number;
}

export interface FfmpegResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Head and tail of stderr; a marker line stands in for whatever was dropped between them. */
  stderr: string;
  stderrTruncated: boolean;
  timedOut: boolean;
  aborted: boolean;
}

const DEFAULT_STDERR_BYTES = 256 * 1024;

/**
 * Runs ffmpeg without a shell, stdin closed (`-nostdin`, so it never waits on a terminal) and stdout
 * discarded. stderr is bounded: a file that makes a decoder complain on every packet for an hour must
 * not grow our heap. Rejects only when the process cannot be started (e.g. ENOENT, EACCES).
 */
export function runFfmpeg(ffmpegPath: string, args: readonly string[], options: RunFfmpegOptions = {}): Promise<FfmpegResult> {
  const fullArgs = args.includes('-nostdin') ? [...args] : ['-nostdin', ...args];
  const stderr = new BoundedText(options.stderrHeadBytes ?? DEFAULT_STDERR_BYTES, options.stderrTailBytes ?? DEFAULT_STDERR_BYTES);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ code: null, signal: null, stderr: '', stderrTruncated: false, timedOut: false, aborted: true });
      return;
    }
    const child = spawn(ffmpegPath, fullArgs, { stdio: ['ignore', 'ignore', 'pipe'], shell: false, windowsHide: true });
    killOnExit(child);
    let timedOut = false;
    let aborted = false;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            kill();
          }, options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      cleanup();
      reject(new Error(`could not start ffmpeg (${ffmpegPath}): ${error.message}`, { cause: error }));
    });
    // 'close' (not 'exit') so every stderr byte has been read.
    child.once('close', (code, signal) => {
      cleanup();
      resolve({ code, signal, stderr: stderr.text(), stderrTruncated: stderr.truncated, timedOut, aborted });
    });
  });
}

/** Keeps the first `headLimit` and last `tailLimit` bytes of a stream. */
export class BoundedText {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(
    private readonly headLimit: number,
    private readonly tailLimit: number,
  ) {}

  get truncated(): boolean {
    return this.dropped > 0;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    if (this.headBytes < this.headLimit) {
      const take = Math.min(this.headLimit - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    // Compact only once the tail is twice its limit, so each byte is copied O(1) times on average.
    if (this.tailBytes > 2 * this.tailLimit) this.trimTail();
  }

  text(): string {
    this.trimTail();
    const head = Buffer.concat(this.head).toString('utf8');
    const tail = Buffer.concat(this.tail).toString('utf8');
    return this.dropped > 0 ? `${head}\n[… ${this.dropped} bytes of ffmpeg output omitted …]\n${tail}` : head + tail;
  }

  private trimTail(): void {
    if (this.tailBytes <= this.tailLimit) return;
    const all = Buffer.concat(this.tail);
    const excess = all.length - this.tailLimit;
    this.dropped += excess;
    this.tail = [Buffer.from(all.subarray(excess))]; // copy, so the larger buffer can be freed
    this.tailBytes = this.tailLimit;
  }
}
