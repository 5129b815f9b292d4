/**
 * The polite client against a real local server and the real Redis: retries and backoff, Retry-After,
 * redirects (allowed, refused and counted, credentials dropped), size caps (announced, chunked, gzip
 * that inflates past the cap), bodies cut short, stalls, X-Robots-Tag, and credentials kept out of
 * every log line and error.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createHttpClient, type HttpClient } from '../../infra/http/client.ts';
import { HostNotAllowedError, HttpStatusError, OptedOutError, RetriesExhaustedError, TooLargeError } from '../../infra/http/errors.ts';
import { definePolicy, type HttpPolicy } from '../../infra/http/policy.ts';
import { readHttpCounters } from '../../infra/http/counters.ts';
import { ClipError } from '../../schemas/failure.ts';
import { startHttpServer, type RunningServer } from '../../demo/providers/common.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';

const SECRET = 'sekrit-token-6f1e2d3c4b5a';
const ctx = testQueueContext();
let server: RunningServer;
let admin: RunningServer;
let dir: string;
const hits = new Map<string, number>();
const seen: { path: string; auth: string | undefined; ua: string | undefined }[] = [];
const logLines: string[] = [];
const adminAuth: (string | undefined)[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

function hit(path: string): number {
  const n = (hits.get(path) ?? 0) + 1;
  hits.set(path, n);
  return n;
}

async function handler(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  seen.push({ path: url.pathname, auth: req.headers.authorization, ua: req.headers['user-agent'] });
  const n = hit(url.pathname + url.search);
  const body = Buffer.alloc(4096, 7);
  switch (url.pathname) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    case '/flaky': // two 503s then success
      if (n <= 2) res.writeHead(503).end('busy');
      else res.writeHead(200).end('fine');
      return;
    case '/throttled': // 429 without Retry-After twice, as Freesound does
      if (n <= 2) res.writeHead(429, { 'content-type': 'application/json' }).end('{"detail":"Request was throttled because of exceeding a request limit rate (60/minute)"}');
      else res.writeHead(200).end('fine');
      return;
    case '/retry-after':
      if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end();
      else res.writeHead(200).end('after');
      return;
    case '/always-500':
      res.writeHead(500).end('no');
      return;
    case '/not-found':
      res.writeHead(404).end('gone');
      return;
    case '/redirect-ok':
      res.writeHead(302, { location: '/final' }).end();
      return;
    case '/redirect-chain':
      res.writeHead(301, { location: '/redirect-ok' }).end();
      return;
    case '/redirect-admin':
      res.writeHead(302, { location: `${admin.origin}/admin/delete-everything?token=${SECRET}` }).end();
      return;
    case '/final':
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': body.length }).end(body);
      return;
    case '/big-announced':
      res.writeHead(200, { 'content-length': 10 * 1024 * 1024 });
      res.end(Buffer.alloc(1024)); // never reached: the client refuses on the header
      return;
    case '/big-chunked': // no Content-Length: only counting bytes can stop it
      res.writeHead(200, { 'content-type': 'audio/wav' });
      for (let i = 0; i < 64; i++) res.write(Buffer.alloc(16 * 1024, i));
      res.end();
      return;
    case '/gzip-bomb': {
      // A small, truthful Content-Length for 4 MB of zeros after decompression.
      const zipped = gzipSync(Buffer.alloc(4 * 1024 * 1024));
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': zipped.length }).end(zipped);
      return;
    }
    case '/truncated-once':
      if (n === 1) {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, 1000));
        setTimeout(() => res.socket?.destroy(), 20);
      } else res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    case '/stall-once':
      if (n === 1) {
        res.writeHead(200, { 'content-length': body.length });
        res.flushHeaders(); // headers, then silence past the idle timeout
      } else res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    case '/noai':
      res.writeHead(200, { 'x-robots-tag': 'noai, noimageai', 'content-length': body.length }).end(body);
      return;
    case '/noimageai':
      res.writeHead(200, { 'x-robots-tag': 'noimageai', 'content-length': body.length }).end(body);
      return;
    case '/other-bot-noml':
      res.writeHead(200, { 'x-robots-tag': 'otherbot: noml', 'content-length': body.length }).end(body);
      return;
    case '/empty':
      res.writeHead(200, { 'content-length': 0 }).end();
      return;
    default:
      res.writeHead(404).end();
  }
}

function policy(overrides: Partial<HttpPolicy> = {}): HttpPolicy {
  return definePolicy({
    provider: 'testprov',
    allowedHosts: [server.host],
    rate: [{ limit: 1000, windowMs: 1000 }],
    retries: 4,
    backoff: { baseMs: 20, capMs: 100, retryAfterCapMs: 1500 },
    timeouts: { connectMs: 2000, responseMs: 2000, idleMs: 300 },
    ...overrides,
  });
}

let client: HttpClient;

before(async () => {
  server = await startHttpServer(handler);
  admin = await startHttpServer((req, res) => {
    adminAuth.push(req.headers.authorization);
    res.writeHead(200).end('admin reached');
  });
  dir = await mkdtemp(join(tmpdir(), 'clapset-http-'));
  client = createHttpClient({ redis: ctx.connection, prefix: ctx.prefix, policy: policy(), contact: 'ops@example.org' });
  // Capture every log line this process writes (the client logs backoffs and refusals).
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logLines.push(String(chunk));
    return originalWrite(chunk as string, ...(rest as []));
  }) as typeof process.stderr.write;
});

after(async () => {
  process.stderr.write = originalWrite;
  await server.close();
  await admin.close();
  await rm(dir, { recursive: true, force: true });
  await ctx.close();
});

describe('HttpClient', () => {
  it('sends an identifiable User-Agent with the contact', async () => {
    const response = await client.request(`${server.origin}/ok`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { ok: true });
    assert.match(seen.at(-1)!.ua!, /^clapset\/\d+\.\d+\.\d+ \(\+ops@example\.org\)$/);
  });

  it('backs off through 5xx and 429 without Retry-After, and counts it', async () => {
    const before = await client.counters();
    assert.equal((await client.request(`${server.origin}/flaky`)).text(), 'fine');
    assert.equal((await client.request(`${server.origin}/throttled`)).text(), 'fine');
    const now = await client.counters();
    assert.equal(now.backoffs - before.backoffs, 4);
    assert.equal(now.http_429 - before.http_429, 2);
  });

  it('honours Retry-After (capped) as a floor on the delay', async () => {
    const started = Date.now();
    assert.equal((await client.request(`${server.origin}/retry-after`)).text(), 'after');
    assert.ok(Date.now() - started >= 950, `waited only ${Date.now() - started} ms`);
  });

  it('gives up after the last retry with a transient (non-Clip) error', async () => {
    await assert.rejects(client.request(`${server.origin}/always-500`), (error: unknown) => {
      assert.ok(error instanceof RetriesExhaustedError);
      assert.ok(!(error instanceof ClipError));
      assert.match(error.message, /after 5 attempts; last problem: HTTP 500/);
      return true;
    });
  });

  it('returns other statuses as answers, and download() turns them into permanent ClipErrors', async () => {
    assert.equal((await client.request(`${server.origin}/not-found`)).status, 404);
    await assert.rejects(client.download(`${server.origin}/not-found`, join(dir, 'nf'), { maxBytes: 1e6 }), (error: unknown) => {
      assert.ok(error instanceof HttpStatusError);
      assert.equal(error.status, 404);
      assert.equal(error.reason, 'fetch_error');
      return true;
    });
  });

  it('follows redirect chains within the allowed hosts', async () => {
    const result = await client.download(`${server.origin}/redirect-chain`, join(dir, 'chain.mp3'), { maxBytes: 1e6 });
    assert.equal(result.bytes, 4096);
    assert.equal(new URL(result.url).pathname, '/final');
    assert.equal((await stat(join(dir, 'chain.mp3'))).size, 4096);
  });

  it('refuses a redirect to another host (an admin port on 127.0.0.1) and counts it', async () => {
    const adminHits = seen.filter((s) => s.path.startsWith('/admin')).length;
    await assert.rejects(
      client.download(`${server.origin}/redirect-admin`, join(dir, 'admin'), { maxBytes: 1e6, headers: { Authorization: `Token ${SECRET}` } }),
      (error: unknown) => {
        assert.ok(error instanceof HostNotAllowedError);
        assert.match(error.message, new RegExp(`refused redirect .* to http://127\\.0\\.0\\.1:${admin.port}/admin/.*host not allowed for provider testprov`));
        assert.ok(!error.message.includes(SECRET), error.message);
        return true;
      },
    );
    assert.equal(seen.filter((s) => s.path.startsWith('/admin')).length, adminHits);
    assert.equal((await client.counters()).redirects_refused, 1);
    // A first request to a host outside the list is refused too (hostile metadata), counted apart.
    await assert.rejects(client.request(`${admin.origin}/admin`), HostNotAllowedError);
    assert.equal((await client.counters()).hosts_refused, 1);
  });

  it('cuts off downloads over the cap: announced, chunked, and gzip inflating past it', async () => {
    for (const path of ['/big-announced', '/big-chunked', '/gzip-bomb']) {
      const dest = join(dir, `big${path.replace('/', '-')}`);
      await assert.rejects(client.download(`${server.origin}${path}`, dest, { maxBytes: 256 * 1024 }), (error: unknown) => {
        assert.ok(error instanceof TooLargeError, `${path}: ${String(error)}`);
        assert.equal(error.reason, 'too_large');
        return true;
      });
      await assert.rejects(stat(dest), { code: 'ENOENT' }, `${path}: partial file left behind`);
    }
    assert.equal((await client.counters()).too_large, 3);
    await assert.rejects(client.request(`${server.origin}/big-chunked`, { maxBytes: 1024 }), TooLargeError);
  });

  it('retries a body cut short and a stalled transfer, then succeeds', async () => {
    const a = await client.download(`${server.origin}/truncated-once`, join(dir, 'trunc'), { maxBytes: 1e6 });
    assert.equal(a.bytes, 4096);
    assert.equal(hits.get('/truncated-once'), 2);
    const b = await client.download(`${server.origin}/stall-once`, join(dir, 'stall'), { maxBytes: 1e6 });
    assert.equal(b.bytes, 4096);
    assert.equal(hits.get('/stall-once'), 2);
  });

  it('excludes X-Robots-Tag noai/noml content and counts it; noimageai and other bots do not exclude audio', async () => {
    await assert.rejects(client.download(`${server.origin}/noai`, join(dir, 'noai'), { maxBytes: 1e6 }), (error: unknown) => {
      assert.ok(error instanceof OptedOutError);
      assert.equal(error.name, 'OptedOutError');
      return true;
    });
    await assert.rejects(stat(join(dir, 'noai')), { code: 'ENOENT' });
    assert.equal((await client.download(`${server.origin}/noimageai`, join(dir, 'img'), { maxBytes: 1e6 })).bytes, 4096);
    assert.equal((await client.download(`${server.origin}/other-bot-noml`, join(dir, 'ob'), { maxBytes: 1e6 })).bytes, 4096);
    assert.equal((await client.counters()).robots_excluded, 1);
  });

  it('fails an empty body as empty_file', async () => {
    await assert.rejects(client.download(`${server.origin}/empty`, join(dir, 'empty'), { maxBytes: 1e6 }), { reason: 'empty_file' });
  });

  it('drops Authorization when a redirect changes host', async () => {
    const other = createHttpClient({ redis: ctx.connection, prefix: ctx.prefix, policy: policy({ allowedHosts: [server.host, admin.host] }) });
    await other.download(`${server.origin}/redirect-admin`, join(dir, 'admin-ok'), { maxBytes: 1e6, headers: { Authorization: `Token ${SECRET}` } });
    assert.equal(await readFile(join(dir, 'admin-ok'), 'utf8'), 'admin reached');
    assert.equal(seen.at(-1)!.auth, `Token ${SECRET}`); // the provider's own host got it
    assert.deepEqual(adminAuth, [undefined]); // the other host did not
  });

  it('keeps credentials out of every log line', async () => {
    await assert.rejects(client.request(`${server.origin}/always-500?token=${SECRET}`, { headers: { Authorization: `Token ${SECRET}` } }));
    const logged = logLines.join('');
    assert.match(logged, /backing off/); // the client did log, with URLs
    assert.match(logged, /token=\*\*\*/);
    assert.ok(!logged.includes(SECRET), 'a credential reached the log');
  });

  it('exposes the counters for a dashboard', async () => {
    const all = await readHttpCounters(ctx.connection, ctx.prefix);
    assert.ok(all.testprov);
    assert.ok(all.testprov.requests > 10);
    assert.equal(all.testprov.redirects_refused, 1);
  });
});
