import { forgeTinyClap } from './forge/clap.ts';
import { forgeTinyT5 } from './forge/t5.ts';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { configFromEnv } from '../schemas/config.ts';
import { crawlJobSchema } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { connectRedis, deletePrefixedKeys } from '../infra/redis/connection.ts';
import { ensureRedis } from '../infra/redis/local-redis.ts';
import { openStore } from '../infra/store/open-store.ts';
import { LAION_AUDIO_630K } from '../crawl/recipes/laion-audio-630k.ts';
import { runCrawls } from '../crawl/run-crawl.ts';
import { verifyDataset } from '../dataset/verify.ts';
import { generateDemoCollection } from './demo-collection.ts';
import type { DemoSetup } from './demo-setup.ts';
import { recipeDemo } from './recipe-demo.ts';

export interface DemoOptions {
  out: string;
  workers: number;
  concurrency: number;
  /** Crawl this recipe against local stand-ins of its providers instead of the generated collection. */
  recipe?: typeof LAION_AUDIO_630K;
  /** Caption and embed models; default: tiny ones generated for the demo (`null`: skip that stage). */
  captionModel?: string | null;
  clapModel?: string | null;
}

/**
 * The demo's models: given folders/ids as they are, else tiny T5 and CLAP models generated here
 * (untrained: they exercise the caption and embed stages end to end, their output means nothing).
 */
async function demoModels(options: DemoOptions, dir: string, say: (line: string) => void) {
  const forged = options.captionModel === undefined || options.clapModel === undefined;
  if (forged) say(`generating tiny untrained T5 and CLAP models in ${dir} (pass --caption-model / --clap-model for real ones)`);
  const caption = options.captionModel !== undefined ? options.captionModel : (await forgeTinyT5(join(dir, 'tiny-t5'), { seed: 1 })).dir;
  const clap = options.clapModel !== undefined ? options.clapModel : (await forgeTinyClap(join(dir, 'tiny-clap'), { seed: 1, fused: true })).dir;
  return { caption: { model: caption, batchSize: 8 }, embed: clap === null ? null : { model: clap } };
}

export interface DemoSummary {
  dataset: string;
  shards: number;
  samples: number;
  failed: number;
  hours: number;
}

/** The offline demo: a generated collection crawled with LAION's Freesound filters on. */
async function collectionDemo(collection: string, datasetUri: string, ffmpegPath: string, say: (line: string) => void): Promise<DemoSetup> {
  const generated = await generateDemoCollection(ffmpegPath, collection);
  say(`generated ${generated.clips} clips and ${generated.corrupt} corrupt files in ${collection}`);
  const crawl = parseOrThrow(
    crawlJobSchema,
    {
      dataset: { uri: datasetUri, shardSize: 8, chunkSize: 6, filters: { maxDurationSec: 180, minSampleRate: 16000 } },
      source: { type: 'local', name: 'demo', root: collection, license: 'cc0' },
    },
    'demo crawl',
  );
  return { crawls: [crawl], workerEnv: {}, close: async () => {} };
}

/**
 * The whole pipeline on embedded defaults, with no outside service: set up what to crawl (the
 * generated collection, or with `recipe` the provider stand-ins), use (or start) Redis, run worker
 * processes, crawl, verify. Redis state lives under a private prefix removed at the end.
 */
export async function runDemo(options: DemoOptions, say: (line: string) => void): Promise<DemoSummary> {
  const out = resolve(options.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, 'manifest.json'))) {
    throw new Error(`${out} exists and is not a clapset dataset; choose another --out`);
  }
  await rm(out, { recursive: true, force: true });
  const config = configFromEnv();
  const ffmpegPath = await locateFfmpeg(config);
  const setup =
    options.recipe === LAION_AUDIO_630K
      ? await recipeDemo(resolve(out, '..', 'demo-providers'), out, say)
      : await collectionDemo(resolve(out, '..', 'demo-collection'), out, ffmpegPath, say);
  const models = await demoModels(options, resolve(out, '..', 'demo-models'), say);
  for (const crawl of setup.crawls) Object.assign(crawl.dataset, models);
  try {
    const redis = await ensureRedis(config.redisUrl, { allowStart: true });
    say(redis.started ? `started a private redis-server at ${redis.url}` : `using Redis at ${redis.url}`);
    const prefix = `clapset-demo-${process.pid}`;
    const connection = connectRedis(redis.url);
    try {
      const { summaries, stats } = await runCrawls({ ...config, redisUrl: redis.url }, { connection, prefix }, setup.crawls, {
        resume: false,
        localWorkers: options.workers,
        workerConcurrency: options.concurrency,
        workerLogFile: resolve(out, '..', 'demo-logs', 'workers.log'),
        workerEnv: setup.workerEnv,
      });
      for (const s of summaries) {
        say(`crawled${summaries.length > 1 ? ` ${s.source}` : ''}: ${s.samples} samples, ${s.failed} failed, ${s.filtered} filtered, ${s.shardsDone} shards`);
      }
      const store = openStore(out, config);
      const report = await verifyDataset(store, ffmpegPath);
      await store.close();
      if (!report.ok) throw new Error(`verify found ${report.problems.length} problem(s):\n${report.problems.join('\n')}`);
      say(`verified ${report.shards} shards, ${report.samples} samples: intact`);
      return { dataset: out, shards: report.shards, samples: report.samples, failed: stats.totals.failed, hours: Number(stats.totals.hours.toFixed(6)) };
    } finally {
      await deletePrefixedKeys(connection, prefix);
      await connection.quit();
      await redis.stop();
    }
  } finally {
    await setup.close();
  }
}
