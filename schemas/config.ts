import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseOrThrow } from './parse.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings that come from the environment, so credentials never pass through argv or job data. */
export const configSchema = z.object({
  redisUrl: z.string().url().default('redis://127.0.0.1:6379'),
  /** Key prefix for every BullMQ/Redis key of this deployment; tests use their own. */
  prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('clapset'),
  ffmpegPath: z.string().optional(),
  /** Scratch space for downloads and transcoding. */
  workDir: z.string().min(1).default(join(tmpdir(), 'clapset-work')),
  /** Contact in the crawler's User-Agent, so providers can reach the operator. */
  contact: z.string().optional(),
  /** Default `worker --device` (checked against what runs here when the worker starts). */
  device: z.string().default('cpu'),
  /** Where model ids resolve (`<modelsDir>/<owner>/<name>`, what `clapset models pull` fills). */
  modelsDir: z.string().min(1),
  /** Default `crawl --caption-model` / `--clap-model`. */
  captionModel: z.string().optional(),
  clapModel: z.string().optional(),
  dashboardToken: z.string().optional(),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /** Run even when Redis may evict keys (maxmemory-policy not noeviction, or unknown): a warning instead of a refusal. */
  allowEvictionPolicy: z.boolean().default(false),
  /** How long a job keeps retrying storage/network trouble before its chunk gives up (at least 15 min by default). */
  retryWindowMs: z.number().int().positive().default(15 * 60_000),
  s3: z.object({
    endpoint: z.string().url().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(false),
  }),
});
export type Config = z.infer<typeof configSchema>;

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const endpoint = env.CLAPSET_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return parseOrThrow(
    configSchema,
    {
      redisUrl: env.CLAPSET_REDIS_URL ?? env.REDIS_URL ?? undefined,
      prefix: env.CLAPSET_PREFIX ?? undefined,
      ffmpegPath: env.FFMPEG_PATH || undefined,
      workDir: env.CLAPSET_WORK_DIR || undefined,
      contact: env.CLAPSET_CONTACT || undefined,
      device: env.CLAPSET_DEVICE || undefined,
      modelsDir: env.CLAPSET_MODELS_DIR ? resolve(env.CLAPSET_MODELS_DIR) : join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'clapset', 'models'),
      captionModel: env.CLAPSET_CAPTION_MODEL || undefined,
      clapModel: env.CLAPSET_CLAP_MODEL || undefined,
      dashboardToken: env.CLAPSET_DASHBOARD_TOKEN || undefined,
      logLevel: env.CLAPSET_LOG_LEVEL || undefined,
      allowEvictionPolicy: env.CLAPSET_ALLOW_EVICTION_POLICY ? ['1', 'true', 'yes'].includes(env.CLAPSET_ALLOW_EVICTION_POLICY.toLowerCase()) : undefined,
      retryWindowMs: env.CLAPSET_RETRY_WINDOW_S ? Math.round(Number(env.CLAPSET_RETRY_WINDOW_S) * 1000) : undefined,
      s3: {
        endpoint: endpoint || undefined,
        region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? undefined,
        // Self-hosted S3 servers (MinIO, s3rver, Ceph) want path-style; AWS works either way.
        forcePathStyle: env.CLAPSET_S3_FORCE_PATH_STYLE ? env.CLAPSET_S3_FORCE_PATH_STYLE === 'true' : Boolean(endpoint),
      },
    },
    'environment configuration',
  );
}

/**
 * A logged-in Epidemic Sound web session: the site JSON (`/json/search/sfx/`) answers anonymous
 * clients with a Cloudflare challenge or 401, and public 2025 scrapers send these four values, copied
 * from a browser session. Read only from the environment (EPIDEMIC_COOKIE, EPIDEMIC_CSRF_TOKEN,
 * EPIDEMIC_WORKSPACE_ID, EPIDEMIC_APP_VERSION), never from a spec, job data or logs — and never
 * echoed in a validation error, so there is no schema to reject them with.
 */
export interface EpidemicSession {
  cookie: string;
  csrfToken?: string;
  workspaceId?: string;
  appVersion?: string;
}

/** The session in `env`, or null when EPIDEMIC_COOKIE is unset. */
export function epidemicSessionFromEnv(env: NodeJS.ProcessEnv = process.env): EpidemicSession | null {
  if (!env.EPIDEMIC_COOKIE) return null;
  return {
    cookie: env.EPIDEMIC_COOKIE,
    ...(env.EPIDEMIC_CSRF_TOKEN ? { csrfToken: env.EPIDEMIC_CSRF_TOKEN } : {}),
    ...(env.EPIDEMIC_WORKSPACE_ID ? { workspaceId: env.EPIDEMIC_WORKSPACE_ID } : {}),
    ...(env.EPIDEMIC_APP_VERSION ? { appVersion: env.EPIDEMIC_APP_VERSION } : {}),
  };
}
