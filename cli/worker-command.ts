import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { STAGES, type Stage } from '../infra/queues.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { log } from '../infra/log.ts';
import { parseDevice } from '../infra/models/devices.ts';
import { startWorkers } from '../crawl/run-workers.ts';
import { createWorkerDeps } from '../workers/worker-deps.ts';
import { openQueueContext, parseNumber } from './context.ts';

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
    .option('--concurrency <n>', 'transcode chunks processed at once (each runs one ffmpeg process)', '2')
    .option('--device <device>', 'where models run: cpu, webgpu or cuda (GPU hosts: --queues caption --device cuda); unavailable is an error', process.env.CLAPSET_DEVICE ?? 'cpu')
    .action(async (options: { queues: string; concurrency: string; device: string }) => {
      const config = configFromEnv();
      const ctx = await openQueueContext(config);
      const deps = createWorkerDeps(config, await locateFfmpeg(config), { device: parseDevice(options.device) });
      const stop = startWorkers(ctx, deps, { stages: parseQueues(options.queues), concurrency: parseNumber(options.concurrency) });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info('worker stopping', { signal });
          resolve();
        };
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await stop();
      await deps.close();
      await ctx.close();
    });
}
