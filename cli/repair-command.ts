import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { openStore } from '../infra/store/open-store.ts';
import { runCrawls } from '../crawl/run-crawl.ts';
import { finishedShards, prepareRepair } from '../dataset/repair.ts';
import { integerArg, normaliseDatasetUri, openQueueContext } from './context.ts';

export function registerRepairCommand(program: Command): void {
  program
    .command('repair')
    .description('Redo the shards of a dataset that are missing, unfinished or hold clips lost to transient causes (storage, network, Redis): same positional shards, same keys; prints what it redid')
    .argument('<dataset-uri>', 'a folder or s3://bucket/prefix')
    .option('--workers <n>', 'worker processes to start on this host for the repair (0: use workers already running)', integerArg, 0)
    .option('--concurrency <n>', 'transcode concurrency of each started worker', integerArg, 2)
    .option('--allow-eviction-policy', 'run even when Redis may evict keys (see clapset worker --help)', false)
    .option('--json', 'print what was redone as one JSON line', false)
    .action(async (uri: string, options: { workers: number; concurrency: number; allowEvictionPolicy: boolean; json: boolean }) => {
      const config = configFromEnv();
      const store = openStore(normaliseDatasetUri(uri), config);
      const ctx = await openQueueContext(config);
      try {
        const plan = await prepareRepair(store);
        const result = await runCrawls(config, ctx, plan.crawls, {
          resume: true,
          allowEvictionPolicy: options.allowEvictionPolicy,
          localWorkers: options.workers,
          workerConcurrency: options.concurrency,
        });
        const transient = new Set(plan.transient.map((t) => t.shard));
        const redone = [...(await finishedShards(store))].filter((s) => !plan.done.has(s)).sort();
        const why = (shard: string) => (transient.has(shard) ? 'held transient failures' : plan.unfinished.includes(shard) ? 'unfinished' : 'missing');
        const summary = {
          dataset: result.dataset,
          redone: redone.map((shard) => ({ shard, why: why(shard) })),
          samples: result.stats.totals.samples,
          failed: result.stats.totals.failed,
          shards: result.stats.totals.shards,
        };
        if (options.json) console.log(JSON.stringify(summary));
        else {
          for (const r of summary.redone) console.log(`redone ${r.shard} (${r.why})`);
          console.log(`${summary.dataset}: ${redone.length} shard(s) redone; ${summary.shards} shards, ${summary.samples} samples, ${summary.failed} failed`);
        }
      } finally {
        await ctx.close();
        await store.close();
      }
    });
}
