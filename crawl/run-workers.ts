import { hostname } from 'node:os';
import { MetricsTime, WaitingError, Worker, type ConnectionOptions, type Job, type Processor } from 'bullmq';
import { capEventStreams, openFlowProducer, openQueue, type QueueContext, type Stage } from '../infra/queues.ts';
import { errorMessage, log } from '../infra/log.ts';
import { countStageEvent, recordStageJob, type StageCounters } from '../infra/stage-metrics.ts';
import { CrawlStopped, processCrawlJob } from './crawl.ts';
import { crawlJobSchema, type ClipResult } from '../schemas/jobs.ts';
import type { ShardStats } from '../schemas/stats.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { processCaptionJob } from '../workers/caption/processor.ts';
import { processEmbedJob } from '../workers/embed/processor.ts';
import { processShardJob } from '../workers/shard/processor.ts';
import { processTranscodeJob } from '../workers/transcode/processor.ts';
import type { WorkerDeps } from '../workers/worker-deps.ts';
import { retryingTransient } from '../workers/transient.ts';
import type { JobObserver } from '../workers/observability.ts';

/** Caption/embed chunk jobs in flight per process unless `--model-concurrency` says otherwise. */
export const DEFAULT_MODEL_CONCURRENCY = 4;
/** How long before the grace ends the jobs still running are handed back (at most a quarter of the grace). */
const HAND_BACK_MS = 2000;

export interface WorkerOptions {
  stages: readonly Stage[];
  /** Concurrent transcode chunks (each runs one ffmpeg process); crawl and shard scale from it. */
  concurrency: number;
  /**
   * Caption and embed chunk jobs in flight per queue (default 4): their model runs are batched
   * across them (workers/batching/batcher.ts), so the device is fed while another chunk reads its
   * audio or computes features.
   */
  modelConcurrency?: number;
  /** Told of every job attempt (the worker's /metrics). */
  observer?: JobObserver;
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

export interface RunningWorkers {
  /**
   * Stops taking jobs, asks crawl jobs to checkpoint and hand themselves back, and waits up to
   * `graceMs` for the other active jobs to finish; those still running a little before the grace
   * ends (HAND_BACK_MS) are handed back to the queue (moved to wait) so another worker takes them at
   * once instead of after a lock expiry. Resolves true when every job finished or was released in
   * time on its own; false when jobs were handed back, and then they are still running here, so the
   * process should exit at once.
   */
  drain(graceMs: number): Promise<boolean>;
}

/**
 * Starts one BullMQ worker per requested stage in this process. Storage/network trouble parks a job
 * for the configured retry window (`retryingTransient`); stalls, lost locks and jobs released on
 * shutdown are logged (queue, job, host, pid) and counted per stage for `/metrics`.
 */
export function startWorkers(ctx: QueueContext, deps: WorkerDeps, options: WorkerOptions): RunningWorkers {
  const shardQueue = openQueue(ctx, 'shard');
  const sources = { redis: ctx.connection, prefix: ctx.prefix, workDir: deps.workRoot };
  const flows = openFlowProducer(ctx);
  const stopping = new AbortController();
  const host = hostname();
  const active = new Map<string, { stage: Stage; job: Job; token: string }>();
  const count = (stage: Stage, counter: string) =>
    countStageEvent(ctx.connection, ctx.prefix, stage, counter).catch((error: unknown) => log.warn('could not count a stage event', { stage, counter, error: errorMessage(error) }));
  const release = async (stage: Stage, job: Job, token: string, why: string) => {
    await job.moveToWait(token);
    log.warn('job released on shutdown', { queue: stage, job: job.id, host, why });
    await count(stage, 'released_on_shutdown');
  };

  const crawl: Processor = async (job, token) => {
    log.info('crawl job started', { queue: 'crawl', job: job.id, host, attempt: job.attemptsStarted });
    // Before the crawl adds flows: the stages' event-stream cap (FlowProducer and Worker cannot set it).
    await capEventStreams(ctx);
    try {
      return await processCrawlJob(job, deps.store(parseOrThrow(crawlJobSchema, job.data, 'crawl job').dataset.uri), { flows, shardQueue }, sources, {
        signal: stopping.signal,
        retryWindowMs: deps.config.retryWindowMs,
      });
    } catch (error) {
      // Asked to stop: checkpointed, so another worker continues from there right away.
      if (!(stopping.signal.aborted && error instanceof CrawlStopped) || token === undefined) throw error;
      await release('crawl', job, token, 'crawl checkpointed');
      throw new WaitingError();
    }
  };
  const modelConcurrency = options.modelConcurrency ?? DEFAULT_MODEL_CONCURRENCY;
  const processors: Record<Stage, { processor: Processor; concurrency: number }> = {
    crawl: { processor: crawl, concurrency: 4 },
    transcode: { processor: (job) => processTranscodeJob(job, deps, sources), concurrency: options.concurrency },
    caption: { processor: (job) => processCaptionJob(job, deps), concurrency: modelConcurrency },
    embed: { processor: (job) => processEmbedJob(job, deps), concurrency: modelConcurrency },
    shard: { processor: (job) => processShardJob(job, deps, ctx), concurrency: Math.max(1, Math.ceil(options.concurrency / 2)) },
  };
  const workers = options.stages.map((stage) => {
    const { processor, concurrency } = processors[stage];
    const retrying = retryingTransient(stage, processor, deps.config.retryWindowMs);
    const tracked: Processor = async (job, token) => {
      const id = `${stage}:${job.id}`;
      if (token !== undefined) active.set(id, { stage, job, token });
      try {
        return await retrying(job, token);
      } finally {
        active.delete(id);
      }
    };
    const worker = new Worker(stage, tracked, {
      connection: ctx.connection as unknown as ConnectionOptions,
      prefix: ctx.prefix,
      concurrency,
      lockDuration: 60_000,
      stalledInterval: 15_000,
      maxStalledCount: 3,
      // Per-minute completion counts kept in Redis feed `clapset status` rates.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    });
    worker.on('failed', (job, error) => {
      const seconds = job?.processedOn ? (Date.now() - job.processedOn) / 1000 : 0;
      options.observer?.jobDone(stage, 'failed', seconds);
      log.warn('job attempt failed', { stage, job: job?.id, attempt: job?.attemptsMade, seconds, error: errorMessage(error) });
    });
    worker.on('error', (error) => log.error('worker error', { stage, error: errorMessage(error) }));
    // This worker found the job's lock expired (its worker died or hung) and takes it over.
    worker.on('stalled', (jobId) => {
      log.warn('job stalled; taken over', { queue: stage, job: jobId, host });
      void count(stage, 'stalled');
    });
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) log.warn('job lock lost; another worker may take it over', { queue: stage, job: jobId, host });
      void count(stage, 'lock_lost');
    });
    worker.on('completed', (job, value: unknown) => {
      const seconds = job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0;
      const counters = stageCounters(stage, value);
      options.observer?.jobDone(stage, 'completed', seconds, counters);
      log.info('job completed', { stage, job: job.id, seconds, ...counters });
      recordStageJob(ctx.connection, ctx.prefix, stage, seconds, counters).catch((error: unknown) =>
        log.warn('could not record stage metrics', { stage, error: errorMessage(error) }),
      );
    });
    return worker;
  });
  log.info('worker started', { stages: options.stages, concurrency: options.concurrency, model_concurrency: modelConcurrency, host });
  return {
    async drain(graceMs) {
      stopping.abort();
      const closed = Promise.all(workers.map((w) => w.close())).then(() => true);
      // What still runs is handed back a little before the grace ends, so the process exits within it.
      const handBackAt = graceMs - Math.min(HAND_BACK_MS, graceMs / 4);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), handBackAt)));
      const clean = await Promise.race([closed, late]);
      clearTimeout(timer);
      if (!clean) {
        // Out of time: hand the rest back rather than leave them to stall for a lock duration. Not
        // waited for: BullMQ's close(true) returns the first close(), which waits for those very jobs.
        await Promise.allSettled([...active.values()].map(({ stage, job, token }) => release(stage, job, token, 'grace period over')));
        void Promise.allSettled(workers.map((w) => w.close(true)));
        return false;
      }
      await Promise.allSettled([shardQueue.close(), flows.close()]);
      return true;
    },
  };
}
