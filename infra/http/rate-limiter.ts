/**
 * A request-rate limiter shared by every worker process on every host: one sliding-window log per
 * window in a Redis sorted set, checked and updated atomically by a Lua script using Redis' own
 * clock (hosts' clocks may disagree; Redis' is the one they share).
 *
 * Sliding logs rather than GCRA or fixed windows: a sliding log guarantees at most `limit` grants
 * in ANY interval of `windowMs` — the way Freesound (Django REST framework's throttle, a sliding log
 * of request times) counts — while GCRA lets `limit + 1` through a window after a burst and fixed
 * windows allow `2 × limit` across a boundary. A log costs one sorted-set entry per request in the
 * window: 60 for a per-minute limit, 2,000 for Freesound's daily quota.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateWindow } from './policy.ts';

const SCRIPT = `
local nonce = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local blocking = 0
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w < 1 then w = 1 end
    if w > wait then wait = w; blocking = i end
  end
end
if wait > 0 then return {0, wait, blocking} end
for i = 1, #KEYS do
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZADD', KEYS[i], now, now .. ':' .. nonce)
  redis.call('PEXPIRE', KEYS[i], window + 1000)
end
return {1, 0, 0}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

export interface LimiterDecision {
  granted: boolean;
  /** When not granted: how long until the blocking window has room. */
  waitMs: number;
  /** When not granted: the window that is full. */
  window: RateWindow | null;
}

export class RateLimiter {
  readonly #redis: Redis;
  readonly #keys: string[];
  readonly #windows: RateWindow[];

  /**
   * `windows` should already include any safety margin. Keys: `<prefix>:ratelimit:<provider>` for
   * the first window, `<prefix>:ratelimit:<provider>:<windowMs>ms` for the others.
   */
  constructor(redis: Redis, prefix: string, provider: string, windows: RateWindow[]) {
    if (windows.length === 0) throw new Error(`rate limiter for ${provider}: at least one window is required`);
    for (const w of windows) {
      if (!(Number.isInteger(w.limit) && w.limit > 0 && w.windowMs > 0)) throw new Error(`rate limiter for ${provider}: bad window ${JSON.stringify(w)}`);
    }
    this.#redis = redis;
    this.#windows = windows;
    this.#keys = windows.map((w, i) => (i === 0 ? `${prefix}:ratelimit:${provider}` : `${prefix}:ratelimit:${provider}:${w.windowMs}ms`));
  }

  /** The Redis keys this limiter uses (for tests and clean-up). */
  get keys(): readonly string[] {
    return this.#keys;
  }

  /** One attempt: takes a slot in every window, or says how long to wait. */
  async tryAcquire(): Promise<LimiterDecision> {
    const args = [randomBytes(8).toString('hex'), ...this.#windows.flatMap((w) => [String(w.limit), String(Math.ceil(w.windowMs))])];
    let reply: unknown;
    try {
      reply = await this.#redis.evalsha(SHA, this.#keys.length, ...this.#keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      reply = await this.#redis.eval(SCRIPT, this.#keys.length, ...this.#keys, ...args);
    }
    const [granted, wait, blocking] = reply as [number, number, number];
    return { granted: granted === 1, waitMs: Number(wait), window: blocking > 0 ? (this.#windows[blocking - 1] ?? null) : null };
  }
}
