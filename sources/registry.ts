import type { Redis } from 'ioredis';
import type { HttpTuning } from '../infra/http/policy.ts';
import type { ClipRecord } from '../schemas/clip.ts';
import type { SourceSpec } from '../schemas/source-spec.ts';
import { createBundleSource } from './bundle/bundle-source.ts';
import { createLocalSource } from './local/local-source.ts';
import type { Source } from './source.ts';
import { createAudiostockSource } from './audiostock/audiostock-source.ts';
import { createBbcSource } from './bbc/bbc-source.ts';
import { createEpidemicSource } from './epidemic/epidemic-source.ts';
import { createFreesoundSource } from './freesound/freesound-source.ts';

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

/** The one place source adapters are registered: a spec's `type` picks the adapter. */
export function createSource(spec: SourceSpec, context?: SourceContext): Source {
  switch (spec.type) {
    case 'local':
      return createLocalSource(spec);
    case 'sonniss':
    case 'free-to-use-sounds':
    case 'we-sound-effects':
    case 'odeon':
      return createBundleSource(spec, context);
    case 'freesound':
      return createFreesoundSource(spec, requireContext(spec, context));
    case 'bbc':
      return createBbcSource(spec, requireContext(spec, context));
    case 'epidemic':
      return createEpidemicSource(spec, requireContext(spec, context));
    case 'audiostock':
      return createAudiostockSource(spec, requireContext(spec, context));
    default: {
      const unknown: never = spec;
      throw new Error(`unknown source type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}
