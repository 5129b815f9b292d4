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

/**
 * Windows up to this long start "full" when the limiter has no memory (see the script): waiting one
 * of them is cheap, and it keeps a crawl resumed after a Redis wipe within the provider's count.
 * Longer windows (daily quotas) cannot be recovered that way and start empty.
 */
const COLD_START_MAX_WINDOW_MS = 10 * 60_000;

const SCRIPT = `
local nonce = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local memory = KEYS[#KEYS]
local windows = #KEYS - 1
if redis.call('EXISTS', memory) == 0 then
  -- No memory of recent requests: a first start, a long idle spell, or lost keys (a Redis wipe mid-crawl).
  -- Assume the short windows are full, as they may be at the provider, and start granting after one window.
  local longest = 0
  for i = 1, windows do
    local limit = tonumber(ARGV[2 * i])
    local window = tonumber(ARGV[2 * i + 1])
    if window <= ${COLD_START_MAX_WINDOW_MS} and redis.call('ZCARD', KEYS[i]) == 0 then
      for n = 1, limit do redis.call('ZADD', KEYS[i], now, now .. ':cold:' .. n) end
      redis.call('PEXPIRE', KEYS[i], window + 1000)
      if window > longest then longest = window end
    end
  end
  redis.call('SET', memory, now, 'PX', math.max(longest, 1000))
end
local wait = 0
local blocking = 0
for i = 1, windows do
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
local longest = 1000
for i = 1, windows do
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZADD', KEYS[i], now, now .. ':' .. nonce)
  redis.call('PEXPIRE', KEYS[i], window + 1000)
  if window <= ${COLD_START_MAX_WINDOW_MS} and window > longest then longest = window end
end
redis.call('PEXPIRE', memory, longest)
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
  readonly #memoryKey: string;

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
    this.#memoryKey = `${prefix}:ratelimit:${provider}:memory`;
  }

  /** The Redis keys this limiter uses (for tests and clean-up). */
  get keys(): readonly string[] {
    return [...this.#keys, this.#memoryKey];
  }

  /** One attempt: takes a slot in every window, or says how long to wait. */
  async tryAcquire(): Promise<LimiterDecision> {
    const args = [randomBytes(8).toString('hex'), ...this.#windows.flatMap((w) => [String(w.limit), String(Math.ceil(w.windowMs))])];
    let reply: unknown;
    try {
      reply = await this.#redis.evalsha(SHA, this.#keys.length + 1, ...this.#keys, this.#memoryKey, ...args);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      reply = await this.#redis.eval(SCRIPT, this.#keys.length + 1, ...this.#keys, this.#memoryKey, ...args);
    }
    const [granted, wait, blocking] = reply as [number, number, number];
    return { granted: granted === 1, waitMs: Number(wait), window: blocking > 0 ? (this.#windows[blocking - 1] ?? null) : null };
  }
}
