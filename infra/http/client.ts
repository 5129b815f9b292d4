/**
 * The polite HTTP client every remote source adapter uses: one instance per provider (its policy),
 * any number of instances in any number of processes sharing one Redis.
 *
 * Every exchange — first try, retry and redirect hop alike — first takes a slot from the provider's
 * Redis rate limiter, goes only to the provider's allowed hosts, and carries an identifiable
 * User-Agent. 429, 5xx and network errors are retried with full-jitter exponential backoff (Retry-After
 * honoured when sent, capped); other statuses are answers for the caller. Redirects are followed by
 * hand so each hop is checked (and Authorization is dropped when the host changes). Nothing this
 * module logs or throws carries a credential.
 *
 * got@14 does the HTTP/1.1 work (per-phase timeouts, decompression, streams; the last line that runs on
 * Node 20); its own retry and redirect logic is switched off because both must pass the limiter.
 */
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import got, { RequestError, type Request as GotRequest } from 'got';
import type { Redis } from 'ioredis';
import { configFromEnv } from '../../schemas/config.ts';
import { ClipError } from '../../schemas/failure.ts';
import { log } from '../log.ts';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from './backoff.ts';
import { incrementCounter, readProviderCounters, type HttpCounter } from './counters.ts';
import { HostNotAllowedError, HttpStatusError, OptedOutError, QuotaExhaustedError, RetriesExhaustedError, TooLargeError } from './errors.ts';
import { isAllowedUrl, type HttpPolicy } from './policy.ts';
import { RateLimiter } from './rate-limiter.ts';
import { parseRobotsTag, type RobotsVerdict } from './robots.ts';
import { registerHeaderSecrets, safeUrl, scrub } from './scrub.ts';
import { userAgent } from './user-agent.ts';

export interface HttpClientOptions {
  /** Shared by every worker: the limiter's and the counters' state lives here. */
  redis: Redis;
  /** Key prefix (`CLAPSET_PREFIX`); keys are `<prefix>:ratelimit:<provider>…` and `<prefix>:http:<provider>`. */
  prefix: string;
  policy: HttpPolicy;
  /** Contact for the User-Agent; default `CLAPSET_CONTACT`. */
  contact?: string;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'HEAD';
  /** Credentials go here (e.g. Authorization); their values are registered for scrubbing. */
  headers?: Record<string, string>;
  /** A JSON request body (sets Content-Type). */
  json?: unknown;
  /** Form-encoded request body (OAuth token endpoints). */
  form?: Record<string, string>;
  /** Response body cap; default 32 MiB (a listing page is far smaller). */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  /** The final URL, after redirects. May hold credentials: pass it through `safeUrl` before logging. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** X-Robots-Tag directives that apply to us, and whether they exclude the content. */
  robots: RobotsVerdict;
  text(): string;
  /** The body parsed as JSON; a plain Error naming the (scrubbed) URL when it is not JSON. */
  json(): unknown;
}

export interface DownloadOptions {
  /** Bytes beyond which the download is cut off and fails as `too_large`. */
  maxBytes: number;
  headers?: Record<string, string>;
  /**
   * Continue a partial `dest`: every attempt (retries included) asks for `Range: bytes=<its size>-`
   * and appends a 206 answer; a 200 (a server that ignores Range) starts the file over. `dest` is
   * kept when the download fails, so the next call continues from there.
   */
  resume?: boolean;
}

export interface DownloadResult {
  /** Size of `dest` after the download (with `resume`, the bytes it already had included). */
  bytes: number;
  /** Bytes of `dest` the successful response continued (0 unless `resume` found a partial file). */
  resumedFrom: number;
  /** Final URL (after redirects). */
  url: string;
  contentType: string | undefined;
}

const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 ** 2;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

interface Opened {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  stream: GotRequest;
}

/** A problem reading a body that another attempt may not have (cut short, stalled). */
class TransientBodyError extends Error {}

let warnedNoContact = false;

export class HttpClient {
  readonly provider: string;
  readonly policy: HttpPolicy;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #limiter: RateLimiter;
  readonly #userAgent: string;

  constructor(options: HttpClientOptions) {
    this.policy = options.policy;
    this.provider = options.policy.provider;
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    const margin = options.policy.safetyMarginMs;
    this.#limiter = new RateLimiter(
      options.redis,
      options.prefix,
      this.provider,
      options.policy.rate.map((w) => ({ limit: w.limit, windowMs: w.windowMs + margin })),
    );
    const contact = options.contact ?? configFromEnv().contact;
    this.#userAgent = userAgent(contact);
    if (!contact && !warnedNoContact) {
      warnedNoContact = true;
      log.warn('CLAPSET_CONTACT is not set: providers see a User-Agent without a way to reach the operator', { userAgent: this.#userAgent });
    }
  }

  get userAgent(): string {
    return this.#userAgent;
  }

  /**
   * One request, retried on 429/5xx/network errors and followed through allowed redirects. Any other
   * status is returned for the caller to interpret (Freesound's 404 past the last page is an answer).
   * Throws `HostNotAllowedError` (refused host or redirect), `TooLargeError` (body over the cap),
   * `RetriesExhaustedError` / `QuotaExhaustedError` (transient).
   */
  async request(url: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    return this.#send(new URL(url), options, async (opened) => {
      const body = options.method === 'HEAD' ? (opened.stream.destroy(), Buffer.alloc(0)) : await readCapped(opened, maxBytes);
      const robots = parseRobotsTag(opened.headers['x-robots-tag']);
      const provider = this.provider;
      const finalUrl = opened.url.href;
      return {
        status: opened.status,
        url: finalUrl,
        headers: opened.headers,
        body,
        robots,
        text: () => body.toString('utf8'),
        json: () => {
          try {
            return JSON.parse(body.toString('utf8')) as unknown;
          } catch (error) {
            // A SyntaxError holds no request options; its message may quote the body, so it is scrubbed.
            throw new Error(scrub(`${provider}: ${safeUrl(finalUrl)} answered HTTP ${opened.status} with a body that is not JSON: ${(error as Error).message}`), { cause: error });
          }
        },
      };
    });
  }

  /**
   * Streams `url` into `dest` under the size cap. Permanent problems throw `ClipError`s: a non-2xx
   * final status (`HttpStatusError`, `.status` set — a 401 lets the caller refresh credentials),
   * `TooLargeError` (announced or streamed past the cap, decompressed bytes counted), `OptedOutError`
   * (X-Robots-Tag noai/noml), `HostNotAllowedError`, an empty body. A body cut short is retried;
   * past the last retry the error is transient (`RetriesExhaustedError`). `dest` is removed on failure
   * (with `resume`, kept — except past the size cap — for the next call to continue).
   */
  async download(url: string | URL, dest: string, options: DownloadOptions): Promise<DownloadResult> {
    const { maxBytes } = options;
    const resume = options.resume ?? false;
    // With resume, each attempt asks for what `dest` lacks at that moment (a retry after a cut body too).
    let offset = 0;
    const attempt = async (): Promise<RequestOptions> => {
      offset = resume ? ((await stat(dest).catch(() => null))?.size ?? 0) : 0;
      return { headers: { ...options.headers, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) } };
    };
    const discard = (): Promise<void> => (resume ? Promise.resolve() : rm(dest, { force: true }));
    return this.#send(new URL(url), attempt, async (opened) => {
      const shown = safeUrl(opened.url);
      // A 206 continues `dest` only if it starts where `dest` ends; anything else is the whole file.
      const continues = offset > 0 && opened.status === 206 && contentRangeStart(opened.headers) === offset;
      if (offset > 0 && opened.status === 206 && !continues) {
        opened.stream.destroy();
        await rm(dest, { force: true });
        throw new TransientBodyError(`${shown} answered a range that does not start at byte ${offset}`);
      }
      if (opened.status < 200 || opened.status > 299) {
        opened.stream.destroy();
        throw new HttpStatusError(opened.status, shown);
      }
      const robots = parseRobotsTag(opened.headers['x-robots-tag']);
      if (robots.excluded) {
        opened.stream.destroy();
        await this.count('robots_excluded');
        throw new OptedOutError(shown, robots.directives);
      }
      const base = continues ? offset : 0;
      const announced = identityLength(opened.headers);
      if (announced !== null && base + announced > maxBytes) {
        opened.stream.destroy();
        await this.count('too_large');
        throw new TooLargeError(shown, maxBytes, base + announced, true);
      }
      let bytes = base;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          // Counted after decompression, so a small gzip body that inflates past the cap is caught.
          if (bytes > maxBytes) callback(new TooLargeError(shown, maxBytes, bytes, false));
          else callback(null, chunk);
        },
      });
      try {
        await pipeline(opened.stream, counter, createWriteStream(dest, { flags: continues ? 'a' : 'w' }));
      } catch (error) {
        if (error instanceof TooLargeError) {
          await rm(dest, { force: true });
          await this.count('too_large');
          throw error;
        }
        await discard();
        throw error instanceof RequestError ? new TransientBodyError(describe(error)) : error;
      }
      if (announced !== null && bytes - base !== announced) {
        await discard();
        throw new TransientBodyError(`body cut short: ${bytes - base} of ${announced} bytes`);
      }
      if (bytes === 0) {
        await rm(dest, { force: true });
        throw new ClipError('empty_file', `${shown} answered an empty body`);
      }
      return { bytes, resumedFrom: base, url: opened.url.href, contentType: headerValue(opened.headers['content-type']) };
    });
  }

  /** Adds to one of this provider's counters (adapters count their own, e.g. robots_excluded). */
  async count(counter: HttpCounter, by = 1): Promise<void> {
    await incrementCounter(this.#redis, this.#prefix, this.provider, counter, by);
  }

  async counters(): Promise<Record<HttpCounter, number>> {
    return readProviderCounters(this.#redis, this.#prefix, this.provider);
  }

  /** The retry loop: attempts until an answer, a permanent error, or the last retry. */
  async #send<T>(url: URL, options: RequestOptions | (() => Promise<RequestOptions>), consume: (opened: Opened) => Promise<T>): Promise<T> {
    const { retries, backoff } = this.policy;
    let lastProblem: string | undefined;
    for (let attempt = 0; ; attempt++) {
      let retryAfter: number | null = null;
      try {
        const opened = await this.#follow(url, typeof options === 'function' ? await options() : options);
        if (!isRetryableStatus(opened.status)) return await consume(opened);
        opened.stream.destroy();
        if (opened.status === 429) await this.count('http_429');
        retryAfter = parseRetryAfter(opened.headers['retry-after']);
        lastProblem = `HTTP ${opened.status}`;
      } catch (error) {
        if (!(error instanceof RequestError || error instanceof TransientBodyError)) throw error;
        lastProblem = describe(error);
      }
      if (attempt >= retries) break;
      const delay = backoffDelay(attempt, backoff, retryAfter);
      await this.count('backoffs');
      log.info('backing off', { provider: this.provider, url: safeUrl(url), problem: lastProblem, attempt: attempt + 1, delayMs: delay });
      await sleep(delay);
    }
    await this.count('retries_exhausted');
    const error = new RetriesExhaustedError(this.provider, safeUrl(url), retries + 1, lastProblem ?? 'unknown');
    log.warn('giving up after retries', { provider: this.provider, url: safeUrl(url), problem: lastProblem });
    throw error;
  }

  /** One attempt: limiter slot, request, and each redirect hop (checked, limited) until an answer. */
  async #follow(start: URL, options: RequestOptions): Promise<Opened> {
    let url = start;
    let method = options.method ?? 'GET';
    let headers: Record<string, string> = { ...options.headers };
    registerHeaderSecrets(headers);
    let body: { json?: unknown; form?: Record<string, string> } = { json: options.json, form: options.form };
    let from: URL | null = null;
    for (let hop = 0; ; hop++) {
      if (!isAllowedUrl(url, this.policy.allowedHosts)) {
        await this.count(from === null ? 'hosts_refused' : 'redirects_refused');
        const error = new HostNotAllowedError(this.provider, safeUrl(url), from === null ? null : safeUrl(from));
        log.warn(error.message, { provider: this.provider });
        throw error;
      }
      await this.#acquire();
      await this.count('requests');
      const stream = this.#open(url, method, headers, body);
      const response = await responseOf(stream);
      const location = headerValue(response.headers.location);
      if (!REDIRECTS.has(response.statusCode) || location === undefined) {
        return { status: response.statusCode, headers: response.headers, url, stream };
      }
      stream.destroy();
      if (hop >= this.policy.maxRedirects) {
        throw new ClipError('fetch_error', `${this.provider}: more than ${this.policy.maxRedirects} redirects from ${safeUrl(start)}`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ClipError('fetch_error', scrub(`${this.provider}: ${safeUrl(url)} redirected to an unparseable location`));
      }
      // Credentials are for the host they were given to; a CDN (or anyone else) does not get them.
      if (next.host !== url.host || (url.protocol === 'https:' && next.protocol !== 'https:')) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.includes(name.toLowerCase())));
      }
      if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
        method = 'GET';
        body = {};
      }
      from = url;
      url = next;
    }
  }

  #open(url: URL, method: string, headers: Record<string, string>, body: { json?: unknown; form?: Record<string, string> }): GotRequest {
    const { connectMs, responseMs, idleMs } = this.policy.timeouts;
    const payload =
      body.json !== undefined
        ? { body: JSON.stringify(body.json), contentType: 'application/json' }
        : body.form !== undefined
          ? { body: new URLSearchParams(body.form).toString(), contentType: 'application/x-www-form-urlencoded' }
          : null;
    const stream = got.stream(url, {
      method: method as 'GET',
      headers: {
        'user-agent': this.#userAgent,
        ...headers,
        ...(payload ? { 'content-type': payload.contentType } : {}),
      },
      ...(payload ? { body: payload.body } : {}),
      throwHttpErrors: false,
      followRedirect: false,
      retry: { limit: 0 },
      decompress: true,
      timeout: { lookup: connectMs, connect: connectMs, secureConnect: connectMs, response: responseMs, socket: idleMs },
    });
    // Errors after the response event surface through whoever reads the stream; this listener only
    // keeps an error with no reader (a stream we destroyed) from crashing the process.
    stream.on('error', () => {});
    return stream;
  }

  async #acquire(): Promise<void> {
    let counted = false;
    for (;;) {
      const decision = await this.#limiter.tryAcquire();
      if (decision.granted) return;
      if (decision.waitMs > this.policy.maxLimiterWaitMs) {
        await this.count('quota_exhausted');
        const w = decision.window;
        throw new QuotaExhaustedError(this.provider, decision.waitMs, w ? `(${w.limit} per ${Math.round(w.windowMs / 1000)} s)` : '');
      }
      if (!counted) {
        counted = true;
        await this.count('throttled');
      }
      // A little jitter so processes woken together do not all hit Redis in the same millisecond.
      await sleep(decision.waitMs + Math.floor(Math.random() * 15));
    }
  }
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  return new HttpClient(options);
}

function responseOf(stream: GotRequest): Promise<{ statusCode: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    stream.once('response', (response: { statusCode: number; headers: IncomingHttpHeaders }) => {
      stream.off('error', reject);
      resolve(response);
    });
    stream.once('error', reject);
  });
}

async function readCapped(opened: Opened, maxBytes: number): Promise<Buffer> {
  const announced = identityLength(opened.headers);
  if (announced !== null && announced > maxBytes) {
    opened.stream.destroy();
    throw new TooLargeError(safeUrl(opened.url), maxBytes, announced, true);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        opened.stream.destroy();
        throw new TooLargeError(safeUrl(opened.url), maxBytes, size, false);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    throw error instanceof RequestError ? new TransientBodyError(describe(error)) : error;
  }
  if (announced !== null && size !== announced && opened.status !== 204) throw new TransientBodyError(`body cut short: ${size} of ${announced} bytes`);
  return Buffer.concat(chunks);
}

/** The first byte a 206's Content-Range covers (`bytes 100-199/200` → 100), else null. */
function contentRangeStart(headers: IncomingHttpHeaders): number | null {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(headerValue(headers['content-range'])?.trim() ?? '');
  return match ? Number(match[1]) : null;
}

/** Content-Length when it describes the bytes we will read (no content coding), else null. */
function identityLength(headers: IncomingHttpHeaders): number | null {
  const encoding = headerValue(headers['content-encoding'])?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return null;
  const raw = headerValue(headers['content-length']);
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A got error as a short, scrubbed phrase (its message can hold the URL; its options hold headers). */
function describe(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return scrub(`${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`);
}
