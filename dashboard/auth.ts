import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Refuses to expose the dashboard beyond loopback without a token. */
export function checkBinding(host: string, token: string | null): void {
  if (!isLoopback(host) && !token) {
    throw new Error(`refusing to bind the dashboard to ${host} without a token: set CLAPSET_DASHBOARD_TOKEN (or --token)`);
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const COOKIE = 'clapset_token';

/**
 * Token check for every request when a token is set: `Authorization: Bearer <token>`, or
 * `?token=<token>` once (then an HttpOnly cookie carries it, so links and EventSource work).
 */
export function tokenGuard(token: string | null) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!token) return next();
    const header = req.get('authorization');
    const bearer = header?.startsWith('Bearer ') ? header.slice(7) : null;
    const query = typeof req.query.token === 'string' ? req.query.token : null;
    const cookie = (req.get('cookie') ?? '').split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1) ?? null;
    const offered = bearer ?? query ?? cookie;
    if (offered === null || !same(offered, token)) {
      res.status(401).type('text/plain').send('dashboard token required');
      return;
    }
    if (query !== null) res.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    next();
  };
}
