import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { STAGES, type Stage } from '../infra/queues.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { log } from '../infra/log.ts';
import { parseDevice } from '../infra/models/devices.ts';
import { startWorkers } from '../crawl/run-workers.ts';
import { checkWorkerModels } from '../crawl/model-preflight.ts';
import { createWorkerDeps } from '../workers/worker-deps.ts';
import { redisCheck, startWorkerObservability, storeCheck } from '../workers/observability.ts';
import { checkEvictionPolicy } from '../infra/redis/redis-health.ts';
import { integerArg, normaliseDatasetUri, openQueueContext, positiveArg, positiveIntegerArg } from './context.ts';

export function parseQueues(value: string): Stage[] {
  const stages = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of stages) if (!(STAGES as readonly string[]).includes(s)) throw new Error(`unknown queue "${s}"; queues are ${STAGES.join(', ')}`);
  return stages as Stage[];
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Process jobs from the queues until stopped (SIGINT/SIGTERM finish active jobs first). Run as many as you like, on any host sharing Redis and the object store.')
    .option('--queues <list>', `comma-separated queues (stages) to serve: ${STAGES.join(', ')}`, STAGES.join(','))
    .option('--concurrency <n>', 'transcode chunks processed at once (each runs one ffmpeg process)', integerArg, 2)
    .option('--batch-size <n>', 'items per model run, gathered across the caption/embed chunks in flight: CLAP audio clips (default 8), CLAP text captions (at least 64), T5 keyword lists (default: the dataset\'s --caption-batch-size)', positiveIntegerArg)
    .option('--model-concurrency <n>', 'caption and embed chunks in flight per queue, sharing the model\'s batches (one computes features or downloads while another runs)', positiveIntegerArg, 4)
    .option('--feature-threads <n>', 'worker threads computing CLAP log-mel/fusion features beside inference (0: in the main thread; default: cores - 1, at most 4)', integerArg)
    .option('--device <device>', 'where models run: cpu, webgpu or cuda (GPU hosts: --queues caption --device cuda); unavailable is an error (default: CLAPSET_DEVICE, else cpu)')
    .option('--metrics-port <n>', 'serve /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, logged)', integerArg)
    .option('--metrics-host <address>', 'address the metrics port binds', '0.0.0.0')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, wait this long for active jobs to finish, then hand them back to the queue (a second signal exits at once)', positiveArg, 30)
    .option('--allow-eviction-policy', 'run even when Redis may evict keys (maxmemory-policy not noeviction, or CONFIG disabled): a warning instead of a refusal (also CLAPSET_ALLOW_EVICTION_POLICY=1)', false)
    .option('--ready-store <uri>', 'object store /readyz checks besides Redis (the fleet\'s bucket, e.g. s3://datasets)')
    .action(async (options: { queues: string; concurrency: number; batchSize?: number; modelConcurrency: number; featureThreads?: number; device?: string; metricsPort?: number; metricsHost: string; readyStore?: string; grace: number; allowEvictionPolicy: boolean }) => {
      const config = configFromEnv();
      const ctx = await openQueueContext(config);
      await checkEvictionPolicy(ctx.connection, { allow: options.allowEvictionPolicy || config.allowEvictionPolicy, who: 'clapset worker' }).catch(async (error: unknown) => {
        await ctx.close();
        throw error;
      });
      const deps = createWorkerDeps(config, await locateFfmpeg(config), {
        device: parseDevice(options.device ?? config.device),
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        ...(options.featureThreads === undefined ? {} : { featureThreads: options.featureThreads }),
      });
      const stages = parseQueues(options.queues);
      await checkWorkerModels(deps, stages, config).catch(async (error: unknown) => {
        await deps.close();
        await ctx.close();
        throw error;
      });
      const store = options.readyStore === undefined ? [] : [storeCheck(deps.store(normaliseDatasetUri(options.readyStore)))];
      const observability = options.metricsPort === undefined ? undefined
        : await startWorkerObservability({ port: options.metricsPort, host: options.metricsHost, queues: stages, checks: [redisCheck(ctx.connection), ...store], modelBatches: () => deps.modelBatchStats() });
      const running = startWorkers(ctx, deps, { stages, concurrency: options.concurrency, modelConcurrency: options.modelConcurrency, observer: observability });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info('worker draining', { signal, grace_s: options.grace });
          const now = (again: string) => {
            log.warn('second signal: exiting at once', { signal: again });
            process.exit(1);
          };
          process.once('SIGINT', now);
          process.once('SIGTERM', now);
          observability?.setDraining();
          resolve();
        };
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      const graceEnds = Date.now() + options.grace * 1000;
      const clean = await running.drain(options.grace * 1000);
      if (!clean) {
        // The handed-back jobs still run here (their ffmpeg, their model runs): exit rather than wait for them.
        log.warn('grace period over: jobs still running were handed back to their queues', { grace_s: options.grace });
        process.exit(0);
      }
      // Whatever still holds the event loop after the drain must not keep the process past its grace.
      setTimeout(() => process.exit(0), Math.max(500, graceEnds - Date.now())).unref();
      await observability?.close();
      await deps.close();
      await ctx.close();
    });
}
