import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { configFromEnv } from '../../schemas/config.ts';
import { crawlJobSchema } from '../../schemas/jobs.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { connectRedis, deletePrefixedKeys } from '../../infra/redis/connection.ts';
import { ensureRedis } from '../../infra/redis/local-redis.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { runCrawl } from '../run-crawl.ts';
import { verifyDataset } from '../verify.ts';
import { generateDemoCollection } from './demo-collection.ts';

export interface DemoOptions {
  out: string;
  workers: number;
  concurrency: number;
}

export interface DemoSummary {
  dataset: string;
  shards: number;
  samples: number;
  failed: number;
  hours: number;
}

/**
 * The whole pipeline on embedded defaults, offline: generate a collection, use (or start) Redis,
 * run two worker processes, crawl, verify. Redis state lives under a private prefix removed at the end.
 */
export async function runDemo(options: DemoOptions, say: (line: string) => void): Promise<DemoSummary> {
  const out = resolve(options.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, 'manifest.json'))) {
    throw new Error(`${out} exists and is not a clapset dataset; choose another --out`);
  }
  await rm(out, { recursive: true, force: true });
  const config = configFromEnv();
  const ffmpegPath = await locateFfmpeg(config);
  const collection = resolve(out, '..', 'demo-collection');
  const generated = await generateDemoCollection(ffmpegPath, collection);
  say(`generated ${generated.clips} clips and ${generated.corrupt} corrupt files in ${collection}`);

  const redis = await ensureRedis(config.redisUrl, { allowStart: true });
  say(redis.started ? `started a private redis-server at ${redis.url}` : `using Redis at ${redis.url}`);
  const prefix = `clapset-demo-${process.pid}`;
  const connection = connectRedis(redis.url);
  try {
    const crawl = parseOrThrow(
      crawlJobSchema,
      {
        dataset: { uri: out, shardSize: 8, chunkSize: 6, filters: { maxDurationSec: 180, minSampleRate: 16000 } },
        source: { type: 'local', name: 'demo', root: collection, license: 'cc0' },
      },
      'demo crawl',
    );
    const summary = await runCrawl({ ...config, redisUrl: redis.url }, { connection, prefix }, crawl, {
      resume: false,
      localWorkers: options.workers,
      workerConcurrency: options.concurrency,
      workerLogFile: resolve(out, '..', 'demo-logs', 'workers.log'),
    });
    say(`crawled: ${summary.samples} samples, ${summary.failed} failed, ${summary.filtered} filtered, ${summary.shardsDone} shards`);
    const store = openStore(out, config);
    const report = await verifyDataset(store, ffmpegPath);
    await store.close();
    if (!report.ok) throw new Error(`verify found ${report.problems.length} problem(s):\n${report.problems.join('\n')}`);
    say(`verified ${report.shards} shards, ${report.samples} samples: intact`);
    return { dataset: out, shards: report.shards, samples: report.samples, failed: summary.failed, hours: Number(summary.hours.toFixed(6)) };
  } finally {
    await deletePrefixedKeys(connection, prefix);
    await connection.quit();
    await redis.stop();
  }
}
