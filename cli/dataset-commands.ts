import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { datasetStatsSchema } from '../schemas/stats.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { progressLine } from '../infra/progress.ts';
import { openStore } from '../infra/store/open-store.ts';
import { readAllShardStats } from '../dataset/finalise.ts';
import { verifyDataset } from '../dataset/verify.ts';
import { normaliseDatasetUri } from './context.ts';
import { aggregateStats } from '../workers/shard/tally.ts';
import { readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

export function registerDatasetCommands(program: Command): void {
  program
    .command('verify')
    .description('Read every shard back (grouping, FLAC decodes at 48 kHz mono, JSON schema, sizes.json, stats); exit 1 on any problem')
    .argument('<dataset-uri>', 'a folder or s3://bucket/prefix')
    .option('--json', 'print the report as one JSON object', false)
    .action(async (uri: string, options: { json: boolean }) => {
      const config = configFromEnv();
      const store = openStore(normaliseDatasetUri(uri), config);
      const progress = progressLine('verify');
      try {
        const report = await verifyDataset(store, await locateFfmpeg(config), (done, total) => progress.update(done, total, 'shards'));
        progress.done();
        if (options.json) console.log(JSON.stringify(report));
        else {
          for (const problem of report.problems) console.log(`problem: ${problem}`);
          console.log(`${report.dataset}: ${report.shards} shards, ${report.samples} samples — ${report.ok ? 'intact' : `${report.problems.length} problem(s)`}`);
        }
        process.exitCode = report.ok ? 0 : 1;
      } finally {
        await store.close();
      }
    });

  program
    .command('stats')
    .description("Print a dataset's statistics: per source clips, hours, failures by reason, length histogram")
    .argument('<dataset-uri>', 'a folder or s3://bucket/prefix')
    .option('--json', 'print stats.json as one JSON object', false)
    .option('--recompute', 'recompute from the shard stats instead of reading stats.json (e.g. during a crawl)', false)
    .action(async (uri: string, options: { json: boolean; recompute: boolean }) => {
      const store = openStore(normaliseDatasetUri(uri));
      try {
        const stats =
          options.recompute || !(await store.exists(STATS_KEY))
            ? aggregateStats(await readAllShardStats(store))
            : parseOrThrow(datasetStatsSchema, await readJson(store, STATS_KEY), STATS_KEY);
        if (options.json) {
          console.log(JSON.stringify(stats));
          return;
        }
        console.log(`${store.uri}: ${stats.totals.samples} samples, ${stats.totals.hours.toFixed(3)} h in ${stats.totals.shards} shards; ${stats.totals.failed} failed, ${stats.totals.filtered} filtered`);
        for (const [name, s] of Object.entries(stats.sources)) {
          console.log(`\n${name}: ${s.samples} samples of ${s.clips} clips, ${s.hours.toFixed(3)} h`);
          for (const [reason, n] of Object.entries(s.failed)) console.log(`  failed   ${reason}: ${n}`);
          for (const [reason, n] of Object.entries(s.filtered)) console.log(`  filtered ${reason}: ${n}`);
          for (const [rule, n] of Object.entries(s.excluded ?? {})) if (n > 0) console.log(`  excluded at crawl (${rule}): ${n}`);
          const peak = Math.max(1, ...s.histogram);
          s.histogram.forEach((count, i) => {
            if (count === 0) return;
            const lo = stats.length_bin_edges_seconds[i]!;
            const hi = stats.length_bin_edges_seconds[i + 1]!;
            console.log(`  ${`${lo}–${hi} s`.padEnd(16)} ${'█'.repeat(Math.ceil((count / peak) * 30))} ${count}`);
          });
        }
      } finally {
        await store.close();
      }
    });
}
