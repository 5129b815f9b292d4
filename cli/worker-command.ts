import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { STAGES, type Stage } from '../infra/queues.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { log } from '../infra/log.ts';
import { parseDevice } from '../infra/models/devices.ts';
import { startWorkers } from '../crawl/run-workers.ts';
import { createWorkerDeps } from '../workers/worker-deps.ts';
import { redisCheck, startWorkerObservability, storeCheck } from '../workers/observability.ts';
import { integerArg, normaliseDatasetUri, openQueueContext } from './context.ts';

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
    .option('--device <device>', 'where models run: cpu, webgpu or cuda (GPU hosts: --queues caption --device cuda); unavailable is an error', process.env.CLAPSET_DEVICE ?? 'cpu')
    .option('--metrics-port <n>', 'serve /metrics (Prometheus), /healthz and /readyz on this port (0: any free port, logged)', integerArg)
    .option('--metrics-host <address>', 'address the metrics port binds', '0.0.0.0')
    .option('--ready-store <uri>', 'object store /readyz checks besides Redis (the fleet\'s bucket, e.g. s3://datasets)')
    .action(async (options: { queues: string; concurrency: number; device: string; metricsPort?: number; metricsHost: string; readyStore?: string }) => {
      const config = configFromEnv();
      const ctx = await openQueueContext(config);
      const deps = createWorkerDeps(config, await locateFfmpeg(config), { device: parseDevice(options.device) });
      const stages = parseQueues(options.queues);
      const store = options.readyStore === undefined ? [] : [storeCheck(deps.store(normaliseDatasetUri(options.readyStore)))];
      const observability = options.metricsPort === undefined ? undefined
        : await startWorkerObservability({ port: options.metricsPort, host: options.metricsHost, queues: stages, checks: [redisCheck(ctx.connection), ...store] });
      const stop = startWorkers(ctx, deps, { stages, concurrency: options.concurrency, observer: observability });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info('worker stopping', { signal });
          observability?.setDraining();
          resolve();
        };
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await stop();
      await observability?.close();
      await deps.close();
      await ctx.close();
    });
}
