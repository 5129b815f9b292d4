/**
 * Keeps credentials out of log lines, thrown messages and records. On top of `redact` (secret
 * environment variables, URL userinfo) it removes credential-like query parameters (`?token=…`,
 * Freesound's alternative to the Authorization header) and any value registered at run time — an
 * OAuth access token obtained by a refresh is in no environment variable.
 */
import { redact } from '../log.ts';

const runtimeSecrets = new Set<string>();

// Query parameters that carry credentials on the providers we speak to (and the usual suspects).
const SECRET_PARAMS = /([?&](?:token|access_token|refresh_token|api_key|apikey|key|client_secret|code|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s"']*/gi;

/** Remembers a credential so that `scrub` removes it wherever it appears (shortest ignored). */
export function registerSecret(value: string | undefined | null): void {
  if (value !== undefined && value !== null && value.length >= 4) runtimeSecrets.add(value);
}

export function scrub(text: string): string {
  let out = redact(text).replace(SECRET_PARAMS, '$1***');
  // Longest first, so a secret containing another is removed whole.
  for (const secret of [...runtimeSecrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

/** A URL fit for a log line or an error: credentials removed. */
export function safeUrl(url: string | URL): string {
  return scrub(String(url));
}

/** Registers the credential part of an Authorization-like header value ("Token abc" → "abc"). */
export function registerHeaderSecrets(headers: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'proxy-authorization' || lower === 'x-api-key' || lower === 'cookie') {
      registerSecret(value);
      const space = value.indexOf(' ');
      if (space > 0) registerSecret(value.slice(space + 1).trim());
    }
  }
}
