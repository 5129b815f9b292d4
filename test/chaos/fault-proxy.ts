/**
 * A seeded, fault-injecting HTTP reverse proxy on 127.0.0.1, for putting in front of any loopback
 * HTTP service (the chaos run puts it in front of s3rver). A fraction of requests meets one of three
 * faults, picked by a seeded generator in arrival order:
 *
 * - `error-before`: answered with a 5xx at once, never forwarded (a load balancer shedding load);
 * - `error-after`: forwarded and executed, but the answer is swallowed and replaced by a 5xx (the
 *   client cannot know the operation took effect, so its retry must be idempotent);
 * - `reset`: only requests with a body — part of the body is forwarded, then both connections are
 *   destroyed (a reset mid-upload: the server sees an aborted request, the client ECONNRESET).
 *
 * The decisions are reproducible for a seed; which request meets which decision depends on the order
 * concurrent clients' requests arrive in, which no seed controls.
 *
 * An outage (`setOutage`) overrides all of that: in `refuse` every new connection is dropped as it
 * is accepted and every request on an open one is reset before anything is forwarded; in `hang`
 * requests are read but never answered (the client's idle timeout, or the end of the outage, which
 * drops them, ends each one). Nothing reaches the target while it lasts.
 */
import { Agent, createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isLoopback } from '../../dashboard/auth.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';
import { listenOnLoopback } from '../../demo/providers/common.ts';

export type FaultKind = 'error-before' | 'error-after' | 'reset';
export type OutageMode = 'refuse' | 'hang';

export interface FaultProxyOptions {
  /** Origin to forward to, e.g. `http://127.0.0.1:4568`; loopback only. */
  target: string;
  seed: string | number;
  /** Fraction of requests (0–1) that meet a fault. */
  faultRate: number;
  /** Statuses an error fault answers, drawn uniformly. */
  statuses?: readonly number[];
  /** The error document for an injected status (S3 clients parse an XML `<Error>`). */
  errorBody?: (status: number) => { contentType: string; body: string };
  /** Told of every request and what it met (null: forwarded untouched), e.g. to count faults per operation. */
  onRequest?: (req: IncomingMessage, fault: FaultKind | OutageMode | null) => void;
}

export interface FaultProxyStats {
  requests: number;
  forwarded: number;
  faults: Record<FaultKind, number>;
  /** During outages: connections and requests dropped at once (`refused`), requests left unanswered (`hung`). */
  outage: { refused: number; hung: number };
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  stats: FaultProxyStats;
  /** Faults can be switched off (faultRate 0) for a clean phase, and back on. */
  setFaultRate(rate: number): void;
  /** Starts (or switches) an outage; null ends it, dropping every request it left hanging. */
  setOutage(mode: OutageMode | null): void;
  close(): Promise<void>;
}

// Connection-level headers belong to one hop; `expect` is answered by this proxy's own server.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

function hasBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || req.headers['transfer-encoding'] !== undefined;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (!isLoopback(target.hostname)) throw new Error(`the fault proxy forwards to loopback only, not ${target.hostname}`);
  const random = new SeededRandom(options.seed);
  const statuses = options.statuses ?? [500, 503];
  const errorBody = options.errorBody ?? ((status: number) => ({ contentType: 'text/plain', body: `injected ${status}\n` }));
  let faultRate = options.faultRate;
  const stats: FaultProxyStats = { requests: 0, forwarded: 0, faults: { 'error-before': 0, 'error-after': 0, reset: 0 }, outage: { refused: 0, hung: 0 } };
  let outage: OutageMode | null = null;
  const hanging = new Set<Socket>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  /** One draw per request, in arrival order, so a seed gives the same sequence of decisions. */
  const decide = (req: IncomingMessage): { kind: FaultKind | null; status: number; cut: number } => {
    const hit = random.next() < faultRate;
    const pick = random.next();
    const status = statuses[Math.floor(random.next() * statuses.length)] ?? 500;
    const cut = 0.1 + random.next() * 0.8; // where in the body a reset lands
    if (!hit) return { kind: null, status, cut };
    if (hasBody(req) && pick < 0.5) return { kind: 'reset', status, cut };
    return { kind: pick < 0.75 ? 'error-before' : 'error-after', status, cut };
  };

  const answerError = (req: IncomingMessage, res: ServerResponse, status: number) => {
    const { contentType, body } = errorBody(status);
    const bytes = req.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(body);
    res.writeHead(status, { 'content-type': contentType, 'content-length': req.method === 'HEAD' ? 0 : bytes.length, connection: 'close' });
    res.end(bytes);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    if (outage) {
      options.onRequest?.(req, outage);
      if (outage === 'refuse') {
        stats.outage.refused++;
        req.socket.destroy();
        return;
      }
      stats.outage.hung++;
      req.resume(); // read what the client sends, answer nothing
      hanging.add(req.socket);
      req.socket.once('close', () => hanging.delete(req.socket));
      return;
    }
    const fault = decide(req);
    options.onRequest?.(req, fault.kind);
    if (fault.kind === 'error-before') {
      stats.faults['error-before']++;
      req.resume(); // drain the body the client is sending
      return answerError(req, res, fault.status);
    }
    stats.forwarded++;
    const upstream = forward({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      agent,
    });
    const abort = () => {
      upstream.destroy();
      req.socket.destroy();
    };
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
        res.end('fault proxy: upstream failed\n');
      } else res.destroy();
    });
    req.on('aborted', () => upstream.destroy());
    upstream.on('response', (answer) => {
      if (fault.kind === 'error-after') {
        stats.faults['error-after']++;
        answer.resume();
        answer.on('end', () => answerError(req, res, fault.status));
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      answer.pipe(res);
    });

    if (fault.kind !== 'reset') {
      req.pipe(upstream);
      return;
    }
    // Forward a part of the body, then drop both connections mid-upload.
    stats.faults.reset++;
    const declared = Number(req.headers['content-length'] ?? 0);
    const cutAt = declared > 0 ? Math.max(1, Math.floor(declared * fault.cut)) : 1;
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      if (sent >= cutAt) return;
      const part = chunk.subarray(0, cutAt - sent);
      sent += part.length;
      upstream.write(part);
      if (sent >= cutAt) setImmediate(abort);
    });
    req.on('end', () => {
      if (sent < cutAt) abort();
    });
  };

  const server = createServer(handle);
  // A client that gives up (e.g. the SDK's own timeout) must not crash the proxy.
  server.on('clientError', (_error, socket) => socket.destroy());
  server.on('connection', (socket: Socket) => {
    if (outage !== 'refuse') return;
    stats.outage.refused++;
    socket.destroy();
  });
  const listening = await listenOnLoopback(server);
  return {
    origin: listening.origin,
    stats,
    setFaultRate(rate: number) {
      faultRate = rate;
    },
    setOutage(mode: OutageMode | null) {
      outage = mode;
      if (mode !== 'hang') for (const socket of hanging) socket.destroy();
    },
    close: async () => {
      for (const socket of hanging) socket.destroy();
      await listening.close();
      agent.destroy();
    },
  };
}

/** S3's own error document for an injected status: the SDK reads its `Code` to decide on a retry. */
export function s3ErrorBody(status: number): { contentType: string; body: string } {
  const [code, message] = status === 503 ? ['SlowDown', 'Please reduce your request rate.'] : ['InternalError', 'We encountered an internal error. Please try again.'];
  return {
    contentType: 'application/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>chaos-${status}</RequestId></Error>`,
  };
}
