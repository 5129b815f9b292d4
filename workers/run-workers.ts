import { MetricsTime, Worker, type ConnectionOptions, type Processor } from 'bullmq';
import { openFlowProducer, openQueue, type QueueContext, type Stage } from '../infra/queues.ts';
import { errorMessage, log } from '../infra/log.ts';
import { processCrawlJob } from '../pipelines/crawl.ts';
import { crawlJobSchema } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { processShardJob } from './shard/processor.ts';
import { processTranscodeJob } from './transcode/processor.ts';
import type { WorkerDeps } from './worker-deps.ts';

export interface WorkerOptions {
  stages: readonly Stage[];
  /** Concurrent transcode chunks (each runs one ffmpeg process); other stages scale from it. */
  concurrency: number;
}

/**
 * Starts one BullMQ worker per requested stage in this process. Returns a function that stops them
 * gracefully (active jobs finish) and releases their connections.
 */
export function startWorkers(ctx: QueueContext, deps: WorkerDeps, options: WorkerOptions): () => Promise<void> {
  const shardQueue = openQueue(ctx, 'shard');
  const flows = openFlowProducer(ctx);
  const processors: Record<Stage, { processor: Processor; concurrency: number }> = {
    crawl: {
      processor: (job) => processCrawlJob(job, deps.store(parseOrThrow(crawlJobSchema, job.data, 'crawl job').dataset.uri), { flows, shardQueue }),
      concurrency: 4,
    },
    transcode: { processor: (job) => processTranscodeJob(job, deps), concurrency: options.concurrency },
    shard: { processor: (job) => processShardJob(job, deps), concurrency: Math.max(1, Math.ceil(options.concurrency / 2)) },
  };
  const workers = options.stages.map((stage) => {
    const { processor, concurrency } = processors[stage];
    const worker = new Worker(stage, processor, {
      connection: ctx.connection as unknown as ConnectionOptions,
      prefix: ctx.prefix,
      concurrency,
      lockDuration: 60_000,
      stalledInterval: 15_000,
      maxStalledCount: 3,
      // Per-minute completion counts kept in Redis feed `clapset status` rates.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    });
    worker.on('failed', (job, error) =>
      log.warn('job attempt failed', { stage, job: job?.id, attempt: job?.attemptsMade, error: errorMessage(error) }),
    );
    worker.on('error', (error) => log.error('worker error', { stage, error: errorMessage(error) }));
    return worker;
  });
  log.info('worker started', { stages: options.stages, concurrency: options.concurrency });
  return async () => {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all([shardQueue.close(), flows.close()]);
  };
}
