import { MetricsTime, Worker, type ConnectionOptions, type Processor } from 'bullmq';
import { openFlowProducer, openQueue, type QueueContext, type Stage } from '../infra/queues.ts';
import { errorMessage, log } from '../infra/log.ts';
import { recordStageJob, type StageCounters } from '../infra/stage-metrics.ts';
import { processCrawlJob } from './crawl.ts';
import { crawlJobSchema, type ClipResult } from '../schemas/jobs.ts';
import type { ShardStats } from '../schemas/stats.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { processCaptionJob } from '../workers/caption/processor.ts';
import { processEmbedJob } from '../workers/embed/processor.ts';
import { processShardJob } from '../workers/shard/processor.ts';
import { processTranscodeJob } from '../workers/transcode/processor.ts';
import type { WorkerDeps } from '../workers/worker-deps.ts';

export interface WorkerOptions {
  stages: readonly Stage[];
  /** Concurrent transcode chunks (each runs one ffmpeg process); other stages scale from it. */
  concurrency: number;
}

/** What a finished job adds to its stage's counters (clips by outcome, bytes written). */
function stageCounters(stage: Stage, value: unknown): StageCounters {
  if (stage === 'transcode' && Array.isArray(value)) {
    const results = value as ClipResult[];
    return {
      clips_ok: results.filter((r) => r.status === 'ok').length,
      clips_failed: results.filter((r) => r.status === 'failed').length,
      clips_filtered: results.filter((r) => r.status === 'filtered').length,
      audio_seconds: results.reduce((sum, r) => sum + (r.status === 'ok' ? r.duration : 0), 0),
    };
  }
  if (stage === 'shard' && value && typeof value === 'object') return { bytes_written: (value as ShardStats).bytes_written };
  return {};
}

/**
 * Starts one BullMQ worker per requested stage in this process. Returns a function that stops them
 * gracefully (active jobs finish) and releases their connections.
 */
export function startWorkers(ctx: QueueContext, deps: WorkerDeps, options: WorkerOptions): () => Promise<void> {
  const shardQueue = openQueue(ctx, 'shard');
  const sources = { redis: ctx.connection, prefix: ctx.prefix };
  const flows = openFlowProducer(ctx);
  const processors: Record<Stage, { processor: Processor; concurrency: number }> = {
    crawl: {
      processor: (job) => processCrawlJob(job, deps.store(parseOrThrow(crawlJobSchema, job.data, 'crawl job').dataset.uri), { flows, shardQueue }, sources),
      concurrency: 4,
    },
    transcode: { processor: (job) => processTranscodeJob(job, deps, sources), concurrency: options.concurrency },
    caption: { processor: (job) => processCaptionJob(job, deps), concurrency: 1 },
    embed: { processor: (job) => processEmbedJob(job, deps), concurrency: 1 },
    shard: { processor: (job) => processShardJob(job, deps, ctx), concurrency: Math.max(1, Math.ceil(options.concurrency / 2)) },
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
    worker.on('completed', (job, value: unknown) => {
      const seconds = job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0;
      recordStageJob(ctx.connection, ctx.prefix, stage, seconds, stageCounters(stage, value)).catch((error: unknown) =>
        log.warn('could not record stage metrics', { stage, error: errorMessage(error) }),
      );
    });
    return worker;
  });
  log.info('worker started', { stages: options.stages, concurrency: options.concurrency });
  return async () => {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all([shardQueue.close(), flows.close()]);
  };
}
