import type { Redis } from 'ioredis';
import type { HttpTuning } from '../infra/http/policy.ts';
import type { ClipRecord } from '../schemas/clip.ts';
import type { SourceSpec } from '../schemas/source-spec.ts';

/** Audio a worker can hand to ffmpeg: a file on this host, released once transcoded. */
export interface LocalAudio {
  path: string;
  release(): Promise<void>;
}

/**
 * One provider or collection. `records()` yields clip records in a deterministic order, so that
 * positional shards are the same on every run; `materialise()` makes one record's audio readable
 * on this host, throwing `ClipError` for problems that retrying cannot fix.
 */
export interface Source {
  readonly name: string;
  records(): AsyncIterable<ClipRecord>;
  materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio>;
}

/**
 * What a worker process lends its sources: remote adapters keep their rate limiter and politeness
 * counters in this Redis (shared by every worker on every host); local sources ignore it.
 */
export interface SourceContext {
  redis: Redis;
  /** The deployment's key prefix (CLAPSET_PREFIX). */
  prefix: string;
  /** Where credentials are read from (the spec only names variables); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The worker's scratch space (CLAPSET_WORK_DIR); sources that stage files put them under it. */
  workDir?: string;
  /** Process-level tuning of retries, backoff and timeouts (tests and the demo shorten them); rate limits come from the spec. */
  http?: HttpTuning;
}

/** A record and the opaque cursor that, passed back to `crawl()`, resumes right after it. */
export interface CrawlItem {
  record: ClipRecord;
  cursor: string;
}

/** Remote sources page through a provider and can resume mid-crawl from a cursor. */
export interface ResumableSource extends Source {
  crawl(cursor?: string): AsyncIterable<CrawlItem>;
  records(cursor?: string): AsyncIterable<ClipRecord>;
}

export function isResumable(source: Source): source is ResumableSource {
  return typeof (source as Partial<ResumableSource>).crawl === 'function';
}

/** Remote adapters cannot work without Redis; say so clearly rather than fail on first request. */
export function requireContext(spec: SourceSpec, context: SourceContext | undefined): SourceContext {
  if (context === undefined) throw new Error(`source ${spec.name} (${spec.type}) needs a SourceContext (Redis connection and key prefix) for its rate limiter`);
  return context;
}
