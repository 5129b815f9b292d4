import type { Config } from '../schemas/config.ts';
import type { ExcludedIdsRef } from '../schemas/exclusions.ts';
import type { CrawlJob } from '../schemas/jobs.ts';
import { errorMessage } from '../infra/log.ts';
import { STAGES, type QueueContext } from '../infra/queues.ts';
import { openStore } from '../infra/store/open-store.ts';
import { progressLine } from '../infra/progress.ts';
import type { CrawlProgress, CrawlSummary } from './crawl.ts';
import { submitCrawl, waitForCrawl } from './crawl-control.ts';
import { finaliseWithExclusions, putExcludedIds, type DatasetStatsWithExclusions } from './crawl-exclusions.ts';
import { totalExcluded } from './exclusion-rules.ts';
import { spawnLocalWorkers } from './local-workers.ts';
import { assertSomethingWritten, checkStageModels } from './model-preflight.ts';
import { checkEvictionPolicy } from '../infra/redis/redis-health.ts';

export interface RunCrawlOptions {
  resume: boolean;
  /** Run even when Redis may evict keys (also `config.allowEvictionPolicy`); passed on to the started workers. */
  allowEvictionPolicy?: boolean;
  /** Worker processes to start on this host for the duration of the crawl (0: rely on running ones). */
  localWorkers: number;
  workerConcurrency: number;
  workerLogFile?: string;
  /** Extra environment of the started workers: credentials (e.g. FREESOUND_API_KEY) travel here, never in job data. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Exclusion id lists the crawls refer to, stored in the dataset before they are submitted. */
  excludedIds?: readonly { ref: ExcludedIdsRef; text: string }[];
  quiet?: boolean;
}

export interface CrawlsResult {
  dataset: string;
  /** One per crawl, in the order given. */
  summaries: (CrawlSummary & { source: string })[];
  /** `stats.json` as finalised once every crawl had settled. */
  stats: DatasetStatsWithExclusions;
}

/** The combined progress line: shards settled of planned, records and exclusions, crawls finished. */
function describeProgress(latest: readonly Partial<CrawlProgress>[], finished: number): { done: number; total: number | null; detail: string } {
  const sum = (pick: (p: Partial<CrawlProgress>) => number | undefined) => latest.reduce((n, p) => n + (pick(p) ?? 0), 0);
  const planned = sum((p) => p.shardsPlanned);
  const skipped = sum((p) => p.shardsSkipped);
  const excluded = sum((p) => (p.excluded ? totalExcluded(p.excluded) : 0));
  return {
    done: sum((p) => (p.shardsDone ?? 0) + (p.shardsSkipped ?? 0) + (p.shardsFailed ?? 0)),
    total: planned > 0 ? planned : null,
    detail:
      `shards · ${sum((p) => p.records)} records${skipped ? ` · ${skipped} skipped` : ''}${excluded ? ` · ${excluded} excluded` : ''}` +
      (latest.length > 1 ? ` · ${finished}/${latest.length} crawls done` : ''),
  };
}

/**
 * Submits crawls of one dataset together (one per source), optionally with local worker processes
 * serving all of them, waits for them together with one progress line, and finalises the dataset
 * once more when all have settled: each crawl job finalises on its own when it ends, and those
 * finalisations race, so only this last one is sure to see every source's shards. A failed crawl
 * does not stop the others; the error naming it comes after they settle and the dataset is finalised.
 */
export async function runCrawls(config: Config, ctx: QueueContext, crawls: readonly CrawlJob[], options: RunCrawlOptions): Promise<CrawlsResult> {
  const [first] = crawls;
  if (first === undefined) throw new Error('nothing to crawl');
  const uri = first.dataset.uri;
  if (crawls.some((c) => c.dataset.uri !== uri)) throw new Error('crawls run together must write one dataset');
  const names = crawls.map((c) => c.source.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`two crawls would write source ${twice}; give each its own name`);
  await checkStageModels(crawls);

  const allowEviction = options.allowEvictionPolicy === true || config.allowEvictionPolicy;
  await checkEvictionPolicy(ctx.connection, { allow: allowEviction, who: 'clapset crawl' });
  const store = openStore(uri, config);
  const workers =
    options.localWorkers > 0
      ? spawnLocalWorkers(options.localWorkers, {
          env: {
            ...process.env,
            ...options.workerEnv,
            CLAPSET_REDIS_URL: config.redisUrl,
            CLAPSET_PREFIX: ctx.prefix,
            ...(allowEviction ? { CLAPSET_ALLOW_EVICTION_POLICY: '1' } : {}),
          },
          stages: STAGES,
          concurrency: options.workerConcurrency,
          logFile: options.workerLogFile,
        })
      : null;
  const progress = progressLine(crawls.length === 1 ? `crawl ${first.source.name}` : `crawl ${crawls.length} sources`);
  try {
    for (const file of options.excludedIds ?? []) await putExcludedIds(store, file);
    const ids: string[] = [];
    // Only the first submission may refuse an existing dataset: once it is in, the next crawls are
    // part of the same run, even if a fast worker has already written the manifest.
    for (const [i, crawl] of crawls.entries()) ids.push(await submitCrawl(ctx, store, crawl, { resume: options.resume || i > 0 }));

    const latest: Partial<CrawlProgress>[] = crawls.map(() => ({}));
    let finished = 0;
    const draw = () => {
      if (options.quiet) return;
      const { done, total, detail } = describeProgress(latest, finished);
      progress.update(done, total, detail);
    };
    const outcomes = await Promise.allSettled(
      ids.map((id, i) =>
        waitForCrawl(ctx, id, (p) => {
          latest[i] = p;
          draw();
        }).finally(() => {
          finished++;
          draw();
        }),
      ),
    );
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ source: names[i]!, reason: o.reason as unknown }] : []));
    if (failed.length === crawls.length && crawls.length === 1) throw failed[0]!.reason;
    const stats = await finaliseWithExclusions(store);
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} of ${crawls.length} crawls failed (the others are written and the dataset finalised; rerun with --resume to retry): ` +
          failed.map((f) => `${f.source}: ${errorMessage(f.reason)}`).join(' | '),
      );
    }
    const summaries = outcomes.map((o, i) => ({ source: names[i]!, ...(o as PromiseFulfilledResult<CrawlSummary>).value }));
    assertSomethingWritten(summaries);
    return { dataset: uri, summaries, stats };
  } finally {
    progress.done();
    await workers?.stop();
    await store.close();
  }
}

/** One crawl: the same run with a single source. */
export async function runCrawl(config: Config, ctx: QueueContext, crawl: CrawlJob, options: RunCrawlOptions): Promise<CrawlSummary> {
  const { summaries } = await runCrawls(config, ctx, [crawl], options);
  return summaries[0]!;
}
