/**
 * OAuth2 bearer tokens for Freesound original downloads. The access token (86,400 s) comes from the
 * environment; on expiry or a 401 it is refreshed with the client id/secret and refresh token
 * (`POST /apiv2/oauth2/access_token/`, grant_type=refresh_token). Every token seen is registered for
 * scrubbing — a refreshed one is in no environment variable.
 *
 * Freesound rotates the refresh token on use, so the workers of a deployment must not each refresh
 * the one they were started with: the newest tokens live in Redis (`<prefix>:oauth:freesound:<id>`,
 * one slot per client id and starting refresh token), and one refresh at a time runs under a Redis
 * lock. A worker whose token was refused first looks there for a newer one; only the lock holder
 * asks Freesound; the others wait for its result.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { HttpClient } from '../../infra/http/client.ts';
import { registerSecret } from '../../infra/http/scrub.ts';
import { withSharedLock } from '../../infra/redis/shared-lock.ts';
import type { FreesoundSourceSpec } from '../../schemas/source-spec.ts';

/** Longest a refresh may hold the lock (a dead holder frees it after this). */
const LOCK_TTL_MS = 30_000;
const WAIT_STEP_MS = 200;

interface Tokens {
  access: string;
  refresh: string;
  /** Epoch ms; null when unknown (a token from the environment). */
  expiresAt: number | null;
}

export class FreesoundOAuth {
  readonly #client: HttpClient;
  readonly #tokenUrl: URL;
  readonly #names: FreesoundSourceSpec['oauthEnv'];
  readonly #clientId: string | undefined;
  readonly #clientSecret: string | undefined;
  readonly #shared: { redis: Redis; key: string } | undefined;
  #access: string | undefined;
  #refresh: string | undefined;
  #expiresAt = Number.POSITIVE_INFINITY; // unknown for a token from the environment
  #refreshing: Promise<void> | undefined;

  constructor(client: HttpClient, apiBase: string, names: FreesoundSourceSpec['oauthEnv'], env: NodeJS.ProcessEnv, shared?: { redis: Redis; prefix: string }) {
    this.#client = client;
    this.#tokenUrl = new URL('oauth2/access_token/', apiBase.endsWith('/') ? apiBase : `${apiBase}/`);
    this.#names = names;
    this.#access = env[names.accessToken] || undefined;
    this.#refresh = env[names.refreshToken] || undefined;
    this.#clientId = env[names.clientId] || undefined;
    this.#clientSecret = env[names.clientSecret] || undefined;
    for (const value of [this.#access, this.#refresh, this.#clientSecret]) registerSecret(value);
    if (shared && this.canRefresh) {
      // New credentials from the operator start a new slot instead of meeting stale rotated ones.
      const slot = createHash('sha256').update(`${this.#clientId}\n${this.#refresh}`).digest('hex').slice(0, 16);
      this.#shared = { redis: shared.redis, key: `${shared.prefix}:oauth:freesound:${slot}` };
    }
  }

  get canRefresh(): boolean {
    return this.#refresh !== undefined && this.#clientId !== undefined && this.#clientSecret !== undefined;
  }

  /** The Authorization header for an original download, refreshing first when the token expired. */
  async header(): Promise<Record<string, string>> {
    await this.#adoptShared(undefined);
    if ((this.#access === undefined || Date.now() >= this.#expiresAt) && this.canRefresh) await this.refresh();
    if (this.#access === undefined) {
      throw new Error(
        `freesound: original downloads need an OAuth2 access token in ${this.#names.accessToken} ` +
          `(or ${this.#names.refreshToken}, ${this.#names.clientId} and ${this.#names.clientSecret} to obtain one)`,
      );
    }
    return { Authorization: `Bearer ${this.#access}` };
  }

  /** Replaces the current (refused or expired) access token; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshOnce(this.#access).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshOnce(refused: string | undefined): Promise<void> {
    if (!this.canRefresh) {
      throw new Error(`freesound: the OAuth2 access token was refused and cannot be refreshed (set ${this.#names.refreshToken}, ${this.#names.clientId}, ${this.#names.clientSecret})`);
    }
    if (!this.#shared) return this.#adopt(await this.#requestTokens());
    const { redis, key } = this.#shared;
    const deadline = Date.now() + LOCK_TTL_MS + 5_000;
    for (;;) {
      const held = await withSharedLock(redis, `${key}:lock`, LOCK_TTL_MS, async () => {
        // Another worker may have refreshed since our token was refused; its refresh token is the live one either way.
        if (await this.#adoptShared(refused)) return;
        const tokens = await this.#requestTokens();
        this.#adopt(tokens);
        await redis.set(key, JSON.stringify(tokens));
      });
      if (held || (await this.#adoptShared(refused))) return;
      if (Date.now() > deadline) throw new Error("freesound: timed out waiting for another worker's OAuth2 token refresh");
      await sleep(WAIT_STEP_MS);
    }
  }

  /**
   * Takes the deployment's newest tokens from Redis. True when its access token is usable (not the
   * refused one, not expired); its refresh token is taken regardless, being the only live one.
   */
  async #adoptShared(refused: string | undefined): Promise<boolean> {
    if (!this.#shared) return false;
    const text = await this.#shared.redis.get(this.#shared.key);
    if (text === null) return false;
    const tokens = JSON.parse(text) as Tokens;
    registerSecret(tokens.access);
    registerSecret(tokens.refresh);
    this.#refresh = tokens.refresh;
    if (tokens.access === refused || (tokens.expiresAt !== null && Date.now() >= tokens.expiresAt)) return false;
    this.#adopt(tokens);
    return true;
  }

  #adopt(tokens: Tokens): void {
    this.#access = tokens.access;
    this.#refresh = tokens.refresh;
    this.#expiresAt = tokens.expiresAt ?? Number.POSITIVE_INFINITY;
  }

  async #requestTokens(): Promise<Tokens> {
    const response = await this.#client.request(this.#tokenUrl, {
      method: 'POST',
      form: { client_id: this.#clientId!, client_secret: this.#clientSecret!, grant_type: 'refresh_token', refresh_token: this.#refresh! },
    });
    const body = response.status === 200 ? (response.json() as Record<string, unknown>) : null;
    if (!body || typeof body.access_token !== 'string') {
      // The body may echo what we sent; only the status and the OAuth error code are reported.
      const code = safeErrorCode(response.text());
      throw new Error(`freesound: OAuth2 token refresh failed (HTTP ${response.status}${code ? `, ${code}` : ''})`);
    }
    registerSecret(body.access_token);
    const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : this.#refresh!;
    registerSecret(refresh);
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : 86_400;
    // A minute early, to not race the expiry.
    return { access: body.access_token, refresh, expiresAt: Date.now() + Math.max(0, ttl - 60) * 1000 };
  }
}

function safeErrorCode(text: string): string | null {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    return typeof error === 'string' && /^[a-z_]{1,40}$/.test(error) ? error : null;
  } catch {
    return null;
  }
}
