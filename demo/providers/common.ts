/**
 * Building blocks of the provider fixture servers: a real `node:http` server on 127.0.0.1:0, a
 * sliding-window request counter (what a provider's throttle sees), real audio made once per server
 * by ffmpeg, and response helpers that misbehave on request (slow, truncated, lying lengths).
 * Free of test-framework imports: the demo runs these servers too.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTone, type ToneSpec } from './tone.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface RunningServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  origin: string;
  port: number;
  /** `127.0.0.1:<port>`: what a policy's allowedHosts names. */
  host: string;
  server: Server;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 and a free port; handler errors answer 500 instead of hanging. */
export async function startHttpServer(handler: Handler): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    Promise.resolve(handler(req, res, url)).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { detail: `fixture error: ${(error as Error).message}` });
      else res.destroy();
    });
  });
  const { port, origin, close } = await listenOnLoopback(server);
  return { origin, port, host: `127.0.0.1:${port}`, server, close };
}

/** Starts `server` on 127.0.0.1 and a free port; `close` drops open connections, then stops it. */
export async function listenOnLoopback(server: Server): Promise<{ port: number; origin: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Arrival times in a sliding window, as a throttle keeps them (Django REST framework's
 * SimpleRateThrottle, which Freesound uses, is such a log). `max` is the most arrivals ever seen in
 * any window of `windowMs`: a test asserts it never passed the provider's limit. With a `limit`,
 * `violations` counts the arrivals whose trailing window held more than it — each one a window in
 * which the provider saw us over its limit (the chaos run reports their sum).
 */
export class SlidingWindowCounter {
  #times: number[] = [];
  max = 0;
  total = 0;
  violations = 0;
  /** When each violation happened (ms since the epoch), to line them up with other events. */
  readonly violationTimes: number[] = [];
  constructor(
    readonly windowMs: number,
    readonly limit: number = Infinity,
  ) {}

  /** Records an arrival; returns how many arrivals the window ending now holds (this one included). */
  hit(now: number = Date.now()): number {
    this.#times.push(now);
    this.total++;
    while (this.#times.length > 0 && this.#times[0]! <= now - this.windowMs) this.#times.shift();
    this.max = Math.max(this.max, this.#times.length);
    if (this.#times.length > this.limit) {
      this.violations++;
      this.violationTimes.push(now);
    }
    return this.#times.length;
  }
}

export interface AudioAssets {
  dir: string;
  files: Record<string, { path: string; bytes: number }>;
  cleanup(): Promise<void>;
}

/** Real audio made by ffmpeg into a fresh temp folder, one file per entry. */
export async function makeAudioAssets(specs: Record<string, ToneSpec>): Promise<AudioAssets> {
  const dir = await mkdtemp(join(tmpdir(), 'clapset-fixture-audio-'));
  const files: AudioAssets['files'] = {};
  await Promise.all(
    Object.entries(specs).map(async ([name, spec]) => {
      const path = join(dir, name);
      await makeTone(path, spec);
      files[name] = { path, bytes: (await stat(path)).size };
    }),
  );
  return { dir, files, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A Cloudflare managed-challenge page as a bot gets it (403, `cf-mitigated: challenge`). */
export const CHALLENGE_PAGE = '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body><noscript>Enable JavaScript and cookies to continue</noscript><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function redirect(res: ServerResponse, location: string, status = 302): void {
  res.writeHead(status, { location, 'content-length': 0 });
  res.end();
}

export interface SendFileOptions {
  contentType: string;
  headers?: Record<string, string>;
  /** Wait before the headers (a slow server). */
  delayMs?: number;
  /** Send the headers, then go silent this long before the body (a stalled transfer). */
  stallMs?: number;
  /** Announce the full length but close the connection after this many bytes. */
  truncateAt?: number;
  /** Send no Content-Length (chunked), so only counting the bytes can enforce a cap. */
  omitLength?: boolean;
  /** The request's Range header: `bytes=a-b` is answered 206 with that slice, as CDNs do. */
  range?: string;
}

/**
 * The file a fixture serves for one clip instead of its shared asset (a pool of distinct or corrupt
 * files for many ids); `headers` are sent with it (e.g. a lying Content-Length or a gzip coding).
 */
export interface AudioOverride {
  path: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** How a fixture should misbehave when serving one audio file. */
export interface FileFault extends Partial<Omit<SendFileOptions, 'contentType'>> {
  /** Answer a redirect to this URL instead of the file. */
  redirectTo?: string;
  /** X-Robots-Tag value to send with the file. */
  robots?: string;
  /** Answer this status (e.g. 404) instead. */
  status?: number;
  /** Misbehave for this many requests only, then serve normally (default: every request). */
  times?: number;
}

/** The fault armed for `key`, if any, counting down its `times`. */
export function takeFault<K>(faults: Map<K, FileFault>, key: K): FileFault | undefined {
  const fault = faults.get(key);
  if (fault?.times !== undefined) {
    if (fault.times <= 1) faults.delete(key);
    else fault.times--;
  }
  return fault;
}

/** Streams a file, optionally misbehaving as a real server sometimes does. */
export async function sendFile(res: ServerResponse, path: string, options: SendFileOptions): Promise<void> {
  if (options.delayMs) await sleep(options.delayMs);
  const size = (await stat(path)).size;
  const range = /^bytes=(\d+)-(\d*)$/.exec(options.range ?? '');
  if (range && options.truncateAt === undefined && Number(range[1]) < size) {
    const start = Number(range[1]);
    const end = Math.min(size - 1, range[2] === '' ? size - 1 : Number(range[2]));
    res.writeHead(206, { 'content-type': options.contentType, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, ...options.headers });
    createReadStream(path, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, {
    'content-type': options.contentType,
    ...(options.omitLength ? {} : { 'content-length': size }),
    ...options.headers,
  });
  if (options.stallMs) {
    res.flushHeaders();
    await sleep(options.stallMs);
    if (res.destroyed) return;
  }
  if (options.truncateAt !== undefined) {
    const stream = createReadStream(path, { start: 0, end: Math.max(0, options.truncateAt - 1) });
    stream.on('data', (chunk) => res.write(chunk));
    stream.on('end', () => res.socket?.destroy());
    return;
  }
  createReadStream(path).pipe(res);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Closes a fixture's servers (a provider's site and its media host), then removes its generated audio. */
export function closeFixture(servers: readonly RunningServer[], assets: AudioAssets): () => Promise<void> {
  return async () => {
    await Promise.all(servers.map((server) => server.close()));
    await assets.cleanup();
  };
}
