import { hostname } from 'node:os';
import { configSchema, type LogLevel } from '../schemas/config.ts';

/**
 * JSON-lines logging to stderr, with every configured secret scrubbed: values of credential-like
 * environment variables and the userinfo part of URLs never reach a log line.
 */
const SECRET_ENV = /(SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|CREDENTIAL|PRIVATE)/i;

function secretValues(): string[] {
  return Object.entries(process.env)
    .filter(([name, value]) => SECRET_ENV.test(name) && value !== undefined && value.length >= 4)
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

export function redact(text: string): string {
  // `[^…]*`: `redis://:password@host` has no user name before its password.
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]*(:[^/\s@]*)?@/gi, '$1***@');
  for (const secret of secretValues()) out = out.split(secret).join('***');
  return out;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
// Every line names its host, so logs gathered from a fleet say which machine did what.
const HOST = hostname();
let threshold: number | undefined;

function write(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  // Read at the first line, not at import: a bad CLAPSET_LOG_LEVEL is reported by the CLI's config check.
  threshold ??= ORDER[configSchema.shape.logLevel.safeParse(process.env.CLAPSET_LOG_LEVEL || undefined).data ?? 'info'];
  if (ORDER[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, host: HOST, pid: process.pid, msg, ...fields }, (_key, value) =>
    value instanceof Error ? { name: value.name, message: value.message } : value,
  );
  process.stderr.write(`${redact(line)}\n`);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => write('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
};

export function errorMessage(error: unknown): string {
  return redact(error instanceof Error ? error.message : String(error));
}
