/**
 * How the cost of a crawl grows with its size: N tiny clips (0.1 s WAV, one file hard-linked N times
 * under distinct names, so every clip is a distinct record and a real file) through the real
 * pipeline — crawl job, worker processes, transcode (ffmpeg), shard tars — into an s3rver process
 * behind a counting HTTP proxy, with a private Redis (so its INFO counters see this run alone), for
 * each N: clips/s, Redis peak used_memory (INFO sampled every 100 ms), Redis commands per clip
 * (total_commands_processed delta), object-store requests per clip, planner and finalise times; then
 * the ratios of the per-clip figures between the largest and smallest N (flat is ≤ 1.1) and a
 * linear projection to LAION-Audio-630K's 633,526 clips. Captions and CLAP are off. Also, since the
 * local source cannot resume, the crawl checkpoint of a resumable one over N synthetic records
 * (bytes per save, into a local folder). Not a test.
 * Usage: npm run bench:scale [-- --sizes 500,2000 --workers 2 --concurrency 2 --max-shards-in-flight 4]
 */
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import { link, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { runFfmpeg } from '../infra/ffmpeg/run-ffmpeg.ts';
import { openQueue, STAGES } from '../infra/queues.ts';
import { connectRedis, deletePrefixedKeys } from '../infra/redis/connection.ts';
import { ensureRedis } from '../infra/redis/local-redis.ts';
import { openStore } from '../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../crawl/local-workers.ts';
import { runCrawl } from '../crawl/run-crawl.ts';
import { finaliseWithExclusions } from '../crawl/crawl-exclusions.ts';
import { planShards, withoutCursors, type SourceItem } from '../crawl/shard-plan.ts';
import { CheckpointFrontier } from '../crawl/crawl.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import type { DatasetSpec } from '../schemas/dataset.ts';
import { createSource } from '../sources/registry.ts';
import { configFromEnv } from '../schemas/config.ts';
import { crawlJobSchema } from '../schemas/jobs.ts';
import { startS3Server } from '../test/helpers/s3-server.ts';

const LAION_CLIPS = 633_526;

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '5000,20000,50000' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '2' },
    'shard-size': { type: 'string', default: '512' },
    'chunk-size': { type: 'string', default: '16' },
    'max-shards-in-flight': { type: 'string', default: '4' },
    // A shared Redis would count other clients' commands and memory; by default the bench starts its own.
    'redis-url': { type: 'string' },
  },
});
const sizes = args.sizes.split(',').map((s) => Number(s.trim())).sort((a, b) => a - b);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes wants positive integers, got "${args.sizes}"`);

/** A counting reverse proxy in front of the S3 server: every object-store request of every process passes here. */
function countingProxy(target: URL): { server: Server; counts: Map<string, number>; listen(): Promise<string> } {
  const counts = new Map<string, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const kind = (method: string, url: URL) =>
    method === 'GET' && url.searchParams.has('list-type') ? 'LIST' : method === 'POST' && url.searchParams.has('delete') ? 'DELETE' : method;
  const server = createServer((req, res) => {
    const k = kind(req.method ?? 'GET', new URL(req.url ?? '/', 'http://proxy'));
    counts.set(k, (counts.get(k) ?? 0) + 1);
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(upstream);
  });
  return {
    server,
    counts,
    listen: () =>
      new Promise((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
        }),
      ),
  };
}

async function info(redis: Redis, section: string): Promise<Map<string, string>> {
  const text = await redis.info(section);
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]));
}
const commandsProcessed = async (redis: Redis) => Number((await info(redis, 'stats')).get('total_commands_processed'));
const usedMemory = async (redis: Redis) => Number((await info(redis, 'memory')).get('used_memory'));
/** calls per command (`cmdstat_<name>: calls=N,…`). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [key, value] of await info(redis, 'commandstats')) calls.set(key.replace(/^cmdstat_/, ''), Number(/calls=(\d+)/.exec(value)?.[1] ?? 0));
  return calls;
}

/** Mean seconds of the finished jobs of each stage, from the workers' `job completed` log lines. */
async function stageSeconds(logFile: string): Promise<string> {
  const sums = new Map<string, { n: number; s: number }>();
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.includes('"job completed"')) continue;
    const { stage, seconds } = JSON.parse(line) as { stage: string; seconds: number };
    const sum = sums.get(stage) ?? { n: 0, s: 0 };
    sums.set(stage, { n: sum.n + 1, s: sum.s + seconds });
  }
  return [...sums].map(([stage, { n, s }]) => `${stage} ${n} × ${(s / n).toFixed(2)} s`).join(', ');
}

/** N hard links of one WAV, 1,000 per folder (a walk never lists one huge folder). */
async function makeCollection(root: string, wav: string, n: number): Promise<void> {
  for (let folder = 0; folder * 1000 < n; folder++) {
    const dir = join(root, `f${String(folder).padStart(4, '0')}`);
    await mkdir(dir, { recursive: true });
    const links: Promise<void>[] = [];
    for (let i = folder * 1000; i < Math.min(n, (folder + 1) * 1000); i++) links.push(link(wav, join(dir, `clip_${String(i).padStart(7, '0')}.wav`)));
    await Promise.all(links);
  }
}

/**
 * The crawl checkpoint of a resumable source (the local source has none, so its crawl above saves
 * none) over N synthetic records: the planner and the checkpoint as the crawl job runs them, saving
 * after every shard (the crawl saves at most every 10 s, so at least as often as real crawls), with
 * the bytes each save puts; then a load, as a resumed crawl does.
 */
async function checkpointSaves(store: ObjectStore, n: number, dataset: Pick<DatasetSpec, 'shardSize' | 'testFraction' | 'splitSeed'>) {
  let bytes = 0;
  const counting = new Proxy(store, {
    get(target, property) {
      if (property === 'put') {
        return async (key: string, body: string, options?: { contentType?: string }) => {
          bytes += Buffer.byteLength(body);
          await target.put(key, body, options);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  async function* items(): AsyncGenerator<SourceItem> {
    for (let i = 0; i < n; i++) {
      const id = `scale-${String(i).padStart(7, '0')}`;
      yield { record: { source: 'scale', id, audio: `https://provider.example/sounds/${id}.flac`, text: [`sound ${i}`], tags: [], license: null, original: {} }, cursor: String(i + 1) };
    }
  }
  const frontier = new CheckpointFrontier(counting, 'scale', true);
  const seen = new Set<string>();
  const saves: number[] = [];
  let start = performance.now();
  for await (const shard of planShards(items(), dataset, 'scale', { limit: null, tally: { records: 0, duplicates: 0 }, seen })) {
    frontier.plan(shard);
    frontier.settle(shard);
    const before = bytes;
    await frontier.save(seen, true);
    saves.push(bytes - before);
  }
  const saveMs = performance.now() - start;
  // What the inline format's last save alone wrote: every id seen, plus the same checkpoint.
  const inlineLast = Buffer.byteLength(JSON.stringify([...seen])) + saves.at(-1)!;
  start = performance.now();
  const loaded = await new CheckpointFrontier(store, 'scale', true).load();
  const loadMs = performance.now() - start;
  if (loaded?.seen.length !== n) throw new Error(`the checkpoint loaded ${loaded?.seen.length} seen ids of ${n}`);
  return { saves: saves.length, largest: Math.max(...saves), bytes, inlineLast, saveMs, loadMs };
}

interface Row {
  n: number;
  checkpoint: Awaited<ReturnType<typeof checkpointSaves>>;
  seconds: number;
  peakMemory: number;
  baseMemory: number;
  commands: number;
  requests: number;
  byKind: string;
  plannerMs: number;
  finaliseMs: number;
  samples: number;
}

/** Ratios between the smallest and the largest run so far and the projection (after every size, so a run cut short has them too). */
function summarise(rows: readonly Row[]): void {
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const extra = (r: Row) => r.peakMemory - r.baseMemory;
  const perClip = (r: Row) => ({
    'seconds/clip': r.seconds / r.n,
    'Redis commands/clip': r.commands / r.n,
    'S3 requests/clip': r.requests / r.n,
    'planner ms/clip': r.plannerMs / r.n,
    'finalise ms/clip': r.finaliseMs / r.n,
    // Flat only past the first sealed segment (10,000 ids): below it every save rewrites all ids.
    'checkpoint B/clip': r.checkpoint.bytes / r.n,
  });
  if (rows.length > 1) {
    console.log(`\nratios N=${last.n} / N=${first.n} (goal ≤ 1.1):`);
    const a = perClip(first);
    const b = perClip(last);
    for (const name of Object.keys(a) as (keyof typeof a)[]) {
      const ratio = b[name] / a[name];
      console.log(`  ${name.padEnd(22)} ${a[name].toPrecision(3).padStart(9)} → ${b[name].toPrecision(3).padStart(9)}   ${ratio.toFixed(2)}× ${ratio <= 1.1 ? 'ok' : 'GROWS'}`);
    }
    console.log(`  largest checkpoint save ${(first.checkpoint.largest / 1024).toFixed(1)} KB → ${(last.checkpoint.largest / 1024).toFixed(1)} KB   ${(last.checkpoint.largest / first.checkpoint.largest).toFixed(2)}× (bounded: should not follow N)`);
    console.log(`  Redis peak over idle     ${(extra(first) / 2 ** 20).toFixed(2)} MiB → ${(extra(last) / 2 ** 20).toFixed(2)} MiB   ${(extra(last) / extra(first)).toFixed(2)}× (bounded work in flight: should not follow N)`);
  }
  // Per-clip figures of the largest run, times 633,526; memory along the line through the smallest and largest runs.
  const scale = LAION_CLIPS / last.n;
  // Over idle: the idle figure itself (connections, scripts, allocator) drifts between runs.
  const slope = rows.length > 1 ? Math.max(0, (extra(last) - extra(first)) / (last.n - first.n)) : 0;
  const memory = last.peakMemory + slope * (LAION_CLIPS - last.n);
  console.log(
    `\nprojection to ${LAION_CLIPS.toLocaleString('en')} clips (these ${args.workers} workers, linear in N): ${((last.seconds * scale) / 3600).toFixed(1)} h; ` +
      `Redis peak ≤ ${(memory / 2 ** 20).toFixed(1)} MiB (${(slope * 1000).toFixed(0)} B per 1,000 clips beyond the work in flight, an upper bound: event streams stop at their cap); ` +
      `${((last.commands * scale) / 1e6).toFixed(1)} M Redis commands; ${((last.requests * scale) / 1e6).toFixed(2)} M S3 requests; ` +
      `planner ${((last.plannerMs * scale) / 1000).toFixed(1)} s; finalise ${((last.finaliseMs * scale) / 1000).toFixed(1)} s; ` +
      // Bytes per save are bounded (one segment of 10,000 ids and the checkpoint); below 10,000 ids a run has not sealed a segment yet, so they are not scaled.
      `a resumable source's checkpoint saves ≤ ~${(last.checkpoint.largest / 1024).toFixed(0)} KB each at N=${last.n} ` +
      `(every id inline: the last save ~${((last.checkpoint.inlineLast * scale) / 2 ** 20).toFixed(1)} MiB)`,
  );
}

const work = await mkdtemp(join(tmpdir(), 'clapset-scale-'));
const s3 = await startS3Server({ bucket: 'scale-bench' });
const proxy = countingProxy(new URL(s3.endpoint));
const proxyUrl = await proxy.listen();
const s3Env = { ...s3.env, CLAPSET_S3_ENDPOINT: proxyUrl };
Object.assign(process.env, s3Env);
const config = configFromEnv();
const ffmpeg = await locateFfmpeg(config);
// Port 1 never answers, so ensureRedis starts a private in-memory redis-server (noeviction, no persistence).
const redisServer = await ensureRedis(args['redis-url'] ?? 'redis://127.0.0.1:1', { allowStart: args['redis-url'] === undefined });
const redis = connectRedis(redisServer.url);
const rows: Row[] = [];
try {
  const wav = join(work, 'clip.wav');
  const made = await runFfmpeg(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', '0.1', '-ac', '1', '-c:a', 'pcm_s16le', wav]);
  if (made.code !== 0) throw new Error(made.stderr);
  console.log(
    `sizes ${sizes.join(', ')}; ${args.workers} workers × concurrency ${args.concurrency}; shard ${args['shard-size']}, chunk ${args['chunk-size']}, ` +
      `${args['max-shards-in-flight']} shards in flight; ${availableParallelism()} cores; Redis ${redisServer.started ? 'private' : redisServer.url}`,
  );
  for (const n of sizes) {
    const root = join(work, `c${n}`);
    await makeCollection(root, wav, n);
    const prefix = `clapset-scale-${process.pid}-${n}`;
    const crawl = crawlJobSchema.parse({
      dataset: { uri: `s3://${s3.bucket}/scale-${n}`, shardSize: Number(args['shard-size']), chunkSize: Number(args['chunk-size']), caption: null },
      source: { type: 'local', name: 'scale', root },
      maxShardsInFlight: Number(args['max-shards-in-flight']),
    });

    // The planner alone (records → positional shards), in this process.
    let start = performance.now();
    let planned = 0;
    for await (const shard of planShards(withoutCursors(createSource(crawl.source).records()), crawl.dataset, 'scale', { limit: null, tally: { records: 0, duplicates: 0 } })) {
      planned += shard.clips.length;
    }
    const plannerMs = performance.now() - start;
    if (planned !== n) throw new Error(`planned ${planned} clips of ${n}`);

    const logFile = join(work, `${prefix}.log`);
    const workers = spawnLocalWorkers(Number(args.workers), {
      env: { ...process.env, ...s3Env, CLAPSET_REDIS_URL: redisServer.url, CLAPSET_PREFIX: prefix },
      stages: STAGES,
      concurrency: Number(args.concurrency),
      logFile,
    });
    const connection = connectRedis(redisServer.url);
    try {
      // Time the work, not the workers' start-up.
      const probe = openQueue({ connection, prefix }, 'transcode'); // with the event-stream cap: a bare Queue would reset it
      while ((await probe.getWorkers()).length < Number(args.workers)) await new Promise((r) => setTimeout(r, 50));
      await probe.close();
      const baseMemory = await usedMemory(redis);
      let peakMemory = baseMemory;
      let sampling = true;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          samples++;
          peakMemory = Math.max(peakMemory, await usedMemory(redis));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      proxy.counts.clear();
      const callsBefore = await commandCalls(redis);
      const commandsBefore = await commandsProcessed(redis);
      start = performance.now();
      const summary = await runCrawl({ ...config, redisUrl: redisServer.url }, { connection, prefix }, crawl, { resume: false, localWorkers: 0, workerConcurrency: 0, quiet: true });
      const seconds = (performance.now() - start) / 1000;
      sampling = false;
      await sampler;
      // The sampler's INFO calls and this INFO are not the pipeline's.
      const commands = (await commandsProcessed(redis)) - commandsBefore - samples - 1;
      const topCommands = [...(await commandCalls(redis))]
        .map(([name, calls]): [string, number] => [name, calls - (callsBefore.get(name) ?? 0)])
        .filter(([name]) => name !== 'info')
        .sort(([, a], [, b]) => b - a)
        .slice(0, 6)
        .map(([name, calls]) => `${name} ${(calls / n).toFixed(2)}`)
        .join(', ');
      const requests = [...proxy.counts.values()].reduce((a, b) => a + b, 0);
      const byKind = [...proxy.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${(v / n).toFixed(2)}`).join(', ');
      // BullMQ's per-queue event streams (capped at ~EVENT_STREAM_MAX_LEN entries each) are what grows with N here.
      let eventsBytes = 0;
      const eventEntries: string[] = [];
      for (const stage of STAGES) {
        eventsBytes += Number((await redis.call('MEMORY', 'USAGE', `${prefix}:${stage}:events`)) ?? 0);
        eventEntries.push(`${stage} ${await redis.xlen(`${prefix}:${stage}:events`)}`);
      }
      if (summary.samples !== n) throw new Error(`crawl of ${n} clips wrote ${summary.samples} samples (failed ${summary.failed}, filtered ${summary.filtered})`);

      // Finalisation, as the crawl's last step runs it (the crawl did it already; this times it alone).
      const store = openStore(crawl.dataset.uri, config);
      start = performance.now();
      await finaliseWithExclusions(store);
      const finaliseMs = performance.now() - start;
      await store.close();
      // A local folder: s3rver answers a PUT before its file is written, so overwriting one key at once (a save per shard) can interleave.
      const checkpointStore = openStore(join(work, `checkpoint-${n}`), config);
      const checkpoint = await checkpointSaves(checkpointStore, n, crawl.dataset);
      await checkpointStore.close();
      rows.push({ n, checkpoint, seconds, peakMemory, baseMemory, commands, requests, byKind, plannerMs, finaliseMs, samples: summary.samples });
      console.log(
        `N=${n}: ${(n / seconds).toFixed(1)} clips/s (${seconds.toFixed(1)} s); Redis peak used_memory ${(peakMemory / 2 ** 20).toFixed(2)} MiB ` +
          `(+${((peakMemory - baseMemory) / 2 ** 20).toFixed(2)} over idle); ${(rows.at(-1)!.commands / n).toFixed(1)} Redis commands/clip; ` +
          `${(requests / n).toFixed(2)} S3 requests/clip (${byKind}); planner ${plannerMs.toFixed(0)} ms; finalise ${finaliseMs.toFixed(0)} ms; ` +
          `event streams at the end ${(eventsBytes / 2 ** 20).toFixed(2)} MiB (entries: ${eventEntries.join(', ')})\n` +
          `  per clip: ${topCommands}; jobs: ${await stageSeconds(logFile)}\n` +
          `  a resumable source's checkpoint, saved after each of ${checkpoint.saves} shards: largest save ${(checkpoint.largest / 1024).toFixed(1)} KB, ` +
          `${(checkpoint.bytes / n).toFixed(0)} B per clip in all (every id inline: the last save ${(checkpoint.inlineLast / 1024).toFixed(0)} KB); ` +
          `saves ${checkpoint.saveMs.toFixed(0)} ms, load ${checkpoint.loadMs.toFixed(0)} ms`,
      );
    } finally {
      await workers.stop();
      await deletePrefixedKeys(connection, prefix);
      await connection.quit();
      await rm(root, { recursive: true, force: true });
    }
    summarise(rows);
  }

} finally {
  await redis.quit();
  await redisServer.stop();
  proxy.server.closeAllConnections();
  await new Promise((r) => proxy.server.close(r));
  await s3.stop();
  await rm(work, { recursive: true, force: true });
}
