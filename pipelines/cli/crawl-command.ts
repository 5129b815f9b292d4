import type { Command } from 'commander';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { runCrawl } from '../run-crawl.ts';
import { normaliseDatasetUri, openQueueContext, parseNumber } from './context.ts';

interface CrawlOptions {
  dataset: string;
  root?: string;
  manifest?: string;
  name?: string;
  license?: string;
  shardSize: string;
  testFraction: string;
  splitSeed: string;
  chunkSize: string;
  maxDuration?: string;
  minSampleRate?: string;
  limit?: string;
  maxShardsInFlight: string;
  resume: boolean;
  workers: string;
  concurrency: string;
  json: boolean;
  caption: boolean;
  captionModel?: string;
  captionBatchSize: string;
}

export function crawlJobFromOptions(sourceType: string, options: CrawlOptions) {
  const optional = (v: string | undefined) => (v === undefined ? null : parseNumber(v));
  return parseOrThrow(
    crawlJobSchema,
    {
      dataset: {
        uri: normaliseDatasetUri(options.dataset),
        shardSize: parseNumber(options.shardSize),
        testFraction: parseNumber(options.testFraction),
        splitSeed: options.splitSeed,
        chunkSize: parseNumber(options.chunkSize),
        filters: { maxDurationSec: optional(options.maxDuration), minSampleRate: optional(options.minSampleRate) },
        caption: options.caption
          ? { model: options.captionModel ?? (process.env.CLAPSET_CAPTION_MODEL || null), batchSize: parseNumber(options.captionBatchSize) }
          : null,
      },
      source: { type: sourceType, name: options.name, root: options.root, manifest: options.manifest, license: options.license },
      limit: optional(options.limit),
      maxShardsInFlight: parseNumber(options.maxShardsInFlight),
    },
    'crawl options',
  );
}

export function registerCrawlCommand(program: Command): void {
  program
    .command('crawl')
    .description('Crawl a source into a dataset: positional shards of clips, transcoded by the workers and written as WebDataset tars')
    .argument('<source>', 'source type: local (a folder or .zip of audio files)')
    .requiredOption('--dataset <uri>', 'output: a folder, or s3://bucket/prefix (endpoint and credentials from the environment)')
    .option('--root <path>', 'local: the folder or .zip archive holding the audio')
    .option('--manifest <file>', 'local: CSV or JSONL with file, caption, tags, license columns')
    .option('--name <name>', 'source name used in keys, shard names and stats (default: the source type)')
    .option('--license <id>', 'licence recorded for every clip without one of its own')
    .option('--shard-size <n>', 'samples per shard', '512')
    .option('--test-fraction <x>', 'fraction of clips in the test split (seeded by key)', '0.1')
    .option('--split-seed <seed>', 'seed of the train/test assignment', 'clapset')
    .option('--chunk-size <n>', 'clips per transcode job (one ffmpeg process each)', '16')
    .option('--max-duration <seconds>', "filter out clips longer than this (LAION's Freesound rule: 180)")
    .option('--min-sample-rate <hz>', "filter out clips whose source rate is below this (LAION's Freesound rule: 16000)")
    .option('--caption-model <dir|id>', 'T5 keyword-to-caption model folder or hub id (default: CLAPSET_CAPTION_MODEL, else LAION\'s template "the sounds of a, b, and c.")')
    .option('--caption-batch-size <n>', 'keyword lists per model call', '8')
    .option('--no-caption', 'skip the caption stage (no text_augment_t5)')
    .option('--limit <n>', 'stop after this many source records')
    .option('--max-shards-in-flight <n>', 'shards queued at once (bounds what Redis holds)', '4')
    .option('--resume', 'continue an existing dataset: shards whose stats exist are skipped', false)
    .option('--workers <n>', 'worker processes to start on this host for the crawl (0: use workers already running)', '0')
    .option('--concurrency <n>', 'transcode concurrency of each started worker', '2')
    .option('--json', 'print the summary as one JSON line', false)
    .action(async (sourceType: string, options: CrawlOptions) => {
      const config = configFromEnv();
      const crawl = crawlJobFromOptions(sourceType, options);
      const ctx = await openQueueContext(config);
      try {
        const summary = await runCrawl(config, ctx, crawl, {
          resume: options.resume,
          localWorkers: parseNumber(options.workers),
          workerConcurrency: parseNumber(options.concurrency),
        });
        if (options.json) console.log(JSON.stringify({ dataset: crawl.dataset.uri, ...summary }));
        else
          console.log(
            `${crawl.dataset.uri}: ${summary.samples} samples (${summary.hours.toFixed(3)} h), ${summary.failed} failed, ${summary.filtered} filtered; ` +
              `${summary.shardsDone} shards written, ${summary.shardsSkipped} already done`,
          );
      } finally {
        await ctx.close();
      }
    });
}
