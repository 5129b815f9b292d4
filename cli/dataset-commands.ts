import { InvalidArgumentError, Option, type Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { datasetSpecSchema, SPLITS } from '../schemas/dataset.ts';
import { datasetStatsSchema } from '../schemas/stats.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { progressLine } from '../infra/progress.ts';
import { openStore } from '../infra/store/open-store.ts';
import { readAllShardStats, readManifest, readShardNames, recordPublicUrl, shardHomeOf } from '../dataset/finalise.ts';
import { braceUrl, defaultScheme, shardUrlList, URL_SCHEMES, type UrlScheme } from '../dataset/shard-urls.ts';
import { finaliseWithExclusions } from '../crawl/crawl-exclusions.ts';
import { verifyDataset } from '../dataset/verify.ts';
import { normaliseDatasetUri } from './context.ts';
import { aggregateStats } from '../workers/shard/tally.ts';
import { readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

/** `--public-url`: an http(s) base without query or fragment (the dataset spec's rule), trailing slashes dropped. */
export function publicUrlArg(value: string): string {
  const url = value.trim().replace(/\/+$/, '');
  if (!datasetSpecSchema.shape.publicUrl.safeParse(url).success) throw new InvalidArgumentError('want an http(s):// URL without query or fragment, e.g. https://bucket.example.org/corpus.');
  return url;
}

export function registerDatasetCommands(program: Command): void {
  program
    .command('urls')
    .description(
      "Print a split's shards as one brace pattern (bash / Python braceexpand notation, for webdataset and training configs) or, with --list, one URL per shard; read from <split>/sizes.json",
    )
    .argument('<dataset-uri>', 'a folder or s3://bucket/prefix')
    .addOption(new Option('--split <split>', 'which split').choices(SPLITS).default('train'))
    .addOption(
      new Option('--scheme <scheme>', 'path: local files; pipe-aws / pipe-s5cmd: webdataset pipe: commands; s3: plain s3:// URLs; https: the public base (default: path for a folder, pipe-aws for S3)').choices(URL_SCHEMES),
    )
    .option('--public-url <url>', 'http(s) base the dataset root is served from (default: the one recorded by crawl/finalise --public-url)', publicUrlArg)
    .option('--list', 'one URL per shard, one per line, instead of a brace pattern', false)
    .action(async (uri: string, options: { split: string; scheme?: UrlScheme; publicUrl?: string; list: boolean }) => {
      const store = openStore(normaliseDatasetUri(uri));
      try {
        const names = await readShardNames(store, options.split);
        if (names === null || names.length === 0) throw new Error(`no ${options.split} shards in ${store.uri} (no ${options.split}/sizes.json: the dataset is finalised when a crawl ends, or by \`clapset finalise\`)`);
        const home = shardHomeOf(store);
        const context = { home, publicUrl: options.publicUrl ?? (await readManifest(store))?.dataset.publicUrl ?? null };
        const scheme = options.scheme ?? defaultScheme(home);
        console.log(options.list ? shardUrlList(context, scheme, options.split, names).join('\n') : braceUrl(context, scheme, options.split, names));
      } finally {
        await store.close();
      }
    });

  program
    .command('finalise')
    .description('Rewrite sizes.json, stats.json and the dataset card (README.md) from the shard stats, as a crawl does when it ends')
    .argument('<dataset-uri>', 'a folder or s3://bucket/prefix')
    .option('--public-url <url>', 'record the http(s) base the dataset root is served from (public bucket, CDN) in manifest.json, so the card gives https URLs', publicUrlArg)
    .option('--json', 'print stats.json as one JSON object', false)
    .action(async (uri: string, options: { publicUrl?: string; json: boolean }) => {
      const store = openStore(normaliseDatasetUri(uri));
      try {
        if (options.publicUrl !== undefined) await recordPublicUrl(store, options.publicUrl);
        const stats = await finaliseWithExclusions(store);
        if (options.json) console.log(JSON.stringify(stats));
        else console.log(`${store.uri}: ${stats.totals.samples} samples in ${stats.totals.shards} shards; wrote sizes.json, stats.json and README.md`);
      } finally {
        await store.close();
      }
    });

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
