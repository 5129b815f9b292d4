import type { Config } from '../schemas/config.ts';
import type { CrawlJob } from '../schemas/jobs.ts';
import { STAGES, type QueueContext } from '../infra/queues.ts';
import { openStore } from '../infra/store/open-store.ts';
import { progressLine } from '../infra/progress.ts';
import type { CrawlProgress, CrawlSummary } from './crawl.ts';
import { submitCrawl, waitForCrawl } from './crawl-control.ts';
import { spawnLocalWorkers } from './local-workers.ts';

export interface RunCrawlOptions {
  resume: boolean;
  /** Worker processes to start on this host for the duration of the crawl (0: rely on running ones). */
  localWorkers: number;
  workerConcurrency: number;
  workerLogFile?: string;
  quiet?: boolean;
}

/** Submits a crawl, optionally with local worker processes, and waits for it with a progress line. */
export async function runCrawl(config: Config, ctx: QueueContext, crawl: CrawlJob, options: RunCrawlOptions): Promise<CrawlSummary> {
  const store = openStore(crawl.dataset.uri, config);
  const workers =
    options.localWorkers > 0
      ? spawnLocalWorkers(options.localWorkers, {
          env: { ...process.env, CLAPSET_REDIS_URL: config.redisUrl, CLAPSET_PREFIX: ctx.prefix },
          stages: STAGES,
          concurrency: options.workerConcurrency,
          logFile: options.workerLogFile,
        })
      : null;
  const progress = progressLine(`crawl ${crawl.source.name}`);
  try {
    const id = await submitCrawl(ctx, store, crawl, { resume: options.resume });
    return await waitForCrawl(ctx, id, (p: Partial<CrawlProgress>) => {
      if (options.quiet) return;
      const settled = (p.shardsDone ?? 0) + (p.shardsSkipped ?? 0) + (p.shardsFailed ?? 0);
      progress.update(settled, p.shardsPlanned ?? null, `shards · ${p.records ?? 0} records${p.shardsSkipped ? ` · ${p.shardsSkipped} skipped` : ''}`);
    });
  } finally {
    progress.done();
    await workers?.stop();
    await store.close();
  }
}
