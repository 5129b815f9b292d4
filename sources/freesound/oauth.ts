/**
 * OAuth2 bearer tokens for Freesound original downloads. The access token (86,400 s) comes from the
 * environment; on expiry or a 401 it is refreshed with the client id/secret and refresh token
 * (`POST /apiv2/oauth2/access_token/`, grant_type=refresh_token). Every token seen is registered for
 * scrubbing — a refreshed one is in no environment variable. One refresh at a time per process.
 *
 * Limitation: Freesound rotates the refresh token on use and the new one lives only in this
 * process's memory, so a fleet should be given access tokens (re-issued by the operator daily) rather
 * than each worker refreshing the same refresh token.
 */
import type { HttpClient } from '../../infra/http/client.ts';
import { registerSecret } from '../../infra/http/scrub.ts';
import type { FreesoundSourceSpec } from '../../schemas/source-spec.ts';

export class FreesoundOAuth {
  readonly #client: HttpClient;
  readonly #tokenUrl: URL;
  readonly #names: FreesoundSourceSpec['oauthEnv'];
  readonly #clientId: string | undefined;
  readonly #clientSecret: string | undefined;
  #access: string | undefined;
  #refresh: string | undefined;
  #expiresAt = Number.POSITIVE_INFINITY; // unknown for a token from the environment
  #refreshing: Promise<void> | undefined;

  constructor(client: HttpClient, apiBase: string, names: FreesoundSourceSpec['oauthEnv'], env: NodeJS.ProcessEnv) {
    this.#client = client;
    this.#tokenUrl = new URL('oauth2/access_token/', apiBase.endsWith('/') ? apiBase : `${apiBase}/`);
    this.#names = names;
    this.#access = env[names.accessToken] || undefined;
    this.#refresh = env[names.refreshToken] || undefined;
    this.#clientId = env[names.clientId] || undefined;
    this.#clientSecret = env[names.clientSecret] || undefined;
    for (const value of [this.#access, this.#refresh, this.#clientSecret]) registerSecret(value);
  }

  get canRefresh(): boolean {
    return this.#refresh !== undefined && this.#clientId !== undefined && this.#clientSecret !== undefined;
  }

  /** The Authorization header for an original download, refreshing first when the token expired. */
  async header(): Promise<Record<string, string>> {
    if ((this.#access === undefined || Date.now() >= this.#expiresAt) && this.canRefresh) await this.refresh();
    if (this.#access === undefined) {
      throw new Error(
        `freesound: original downloads need an OAuth2 access token in ${this.#names.accessToken} ` +
          `(or ${this.#names.refreshToken}, ${this.#names.clientId} and ${this.#names.clientSecret} to obtain one)`,
      );
    }
    return { Authorization: `Bearer ${this.#access}` };
  }

  /** Obtains a new access token; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<void> {
    if (!this.canRefresh) {
      throw new Error(`freesound: the OAuth2 access token was refused and cannot be refreshed (set ${this.#names.refreshToken}, ${this.#names.clientId}, ${this.#names.clientSecret})`);
    }
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
    this.#access = body.access_token;
    if (typeof body.refresh_token === 'string') {
      registerSecret(body.refresh_token);
      this.#refresh = body.refresh_token;
    }
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : 86_400;
    this.#expiresAt = Date.now() + Math.max(0, ttl - 60) * 1000; // a minute early, to not race the expiry
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
