/**
 * Pipeline throughput against raw ffmpeg, measured in the same run on the same files:
 *   (a) 200 clips of 1–10 s, (b) 4 files of 10 min — audio seconds per wall second through the full
 *   pipeline (queue + transcode + shard write) beside a loop of one ffmpeg process per file, as a
 *   ratio; plus the peak RSS of the worker processes. Not part of the tests.
 * Usage: npm run bench [-- --clips 200 --long 4 --long-minutes 10 --workers 2]
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { runFfmpeg } from '../infra/ffmpeg/run-ffmpeg.ts';
import { openQueue, STAGES } from '../infra/queues.ts';
import { connectRedis, deletePrefixedKeys } from '../infra/redis/connection.ts';
import { ensureRedis } from '../infra/redis/local-redis.ts';
import { spawnLocalWorkers } from '../crawl/local-workers.ts';
import { runCrawl } from '../crawl/run-crawl.ts';
import { configFromEnv } from '../schemas/config.ts';
import { crawlJobSchema } from '../schemas/jobs.ts';

const { values: args } = parseArgs({
  options: {
    clips: { type: 'string', default: '200' },
    long: { type: 'string', default: '4' },
    'long-minutes': { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1' },
  },
});

const config = configFromEnv();
const ffmpeg = await locateFfmpeg(config);

async function generate(path: string, seconds: number, frequency: number): Promise<void> {
  const r = await runFfmpeg(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=${frequency}:r=44100`, '-f', 'lavfi', '-i', 'anoisesrc=c=pink:a=0.1:r=44100',
    '-filter_complex', 'amix=inputs=2', '-t', String(seconds), '-ac', '2', '-c:a', 'pcm_s16le', path]);
  if (r.code !== 0) throw new Error(r.stderr);
}

async function rawFfmpegLoop(files: string[], outDir: string): Promise<number> {
  await mkdir(outDir, { recursive: true });
  const start = performance.now();
  for (const [i, file] of files.entries()) {
    const r = await runFfmpeg(ffmpeg, ['-v', 'error', '-y', '-i', file, '-vn', '-ar', '48000', '-ac', '1', join(outDir, `${i}.flac`)]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  return (performance.now() - start) / 1000;
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function pipelineRun(root: string, out: string, redisUrl: string): Promise<{ seconds: number; peakRss: number }> {
  const prefix = `clapset-bench-${process.pid}-${Date.now()}`;
  const connection = connectRedis(redisUrl);
  const env = { ...process.env, CLAPSET_REDIS_URL: redisUrl, CLAPSET_PREFIX: prefix };
  const workers = spawnLocalWorkers(Number(args.workers), { env, stages: STAGES, concurrency: Number(args.concurrency), logFile: join(out, '..', `${prefix}.log`) });
  try {
    // Time the work, not the workers' start-up: wait until every worker has registered with Redis.
    const probe = openQueue({ connection, prefix }, 'transcode'); // with the event-stream cap: a bare Queue would reset it
    while ((await probe.getWorkers()).length < Number(args.workers)) await new Promise((r) => setTimeout(r, 50));
    await probe.close();
    const crawl = crawlJobSchema.parse({ dataset: { uri: out, shardSize: 512 }, source: { type: 'local', name: 'bench', root } });
    const start = performance.now();
    await runCrawl({ ...config, redisUrl }, { connection, prefix }, crawl, { resume: false, localWorkers: 0, workerConcurrency: 0, quiet: true });
    const seconds = (performance.now() - start) / 1000;
    const peakRss = Math.max(...(await Promise.all(workers.processes.map((p) => peakRssMb(p.pid!)))));
    return { seconds, peakRss };
  } finally {
    await workers.stop();
    await deletePrefixedKeys(connection, prefix);
    await connection.quit();
  }
}

const work = await mkdtemp(join(tmpdir(), 'clapset-bench-'));
const redis = await ensureRedis(config.redisUrl, { allowStart: true });
try {
  const cases = [
    { name: `(a) ${args.clips} clips of 1–10 s`, count: Number(args.clips), seconds: (i: number) => 1 + ((i * 37) % 91) / 10, target: 2 },
    { name: `(b) ${args.long} files of ${args['long-minutes']} min`, count: Number(args.long), seconds: () => Number(args['long-minutes']) * 60, target: 0.9 },
  ];
  console.log(`ffmpeg: ${ffmpeg}; workers: ${args.workers} × concurrency ${args.concurrency}; cores: ${(await import('node:os')).availableParallelism()}`);
  console.log('case                          audio s   raw ffmpeg loop      pipeline            ratio  target  worker peak RSS');
  for (const c of cases) {
    const root = join(work, c.name.slice(1, 2), 'collection');
    await mkdir(root, { recursive: true });
    const files: string[] = [];
    let audio = 0;
    for (let i = 0; i < c.count; i++) {
      const file = join(root, `clip_${String(i).padStart(4, '0')}.wav`);
      await generate(file, c.seconds(i), 200 + i);
      files.push(file);
      audio += c.seconds(i);
    }
    const raw = await rawFfmpegLoop(files, join(work, c.name.slice(1, 2), 'raw'));
    const piped = await pipelineRun(root, join(work, c.name.slice(1, 2), 'dataset'), redis.url);
    const rawRate = audio / raw;
    const pipeRate = audio / piped.seconds;
    console.log(
      `${c.name.padEnd(28)} ${audio.toFixed(0).padStart(8)}   ${rawRate.toFixed(0).padStart(6)} s/s (${raw.toFixed(1)} s)   ` +
        `${pipeRate.toFixed(0).padStart(6)} s/s (${piped.seconds.toFixed(1)} s)   ${(pipeRate / rawRate).toFixed(2)}×   ≥${c.target}×   ${piped.peakRss.toFixed(0)} MB`,
    );
  }
} finally {
  await redis.stop();
  await rm(work, { recursive: true, force: true });
}
