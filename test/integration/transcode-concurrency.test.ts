// A transcode chunk of a network source fetches its clips a few at a time: a real bundle listing
// server behind a recording proxy that answers each audio file after 300 ms and notes how many audio
// requests overlap; the chunk's results keep the clips' order and its staged files are all there.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { startBundleServer, type BundleServer } from '../../demo/providers/bundle-server.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { sampleKey } from '../../crawl/sample-key.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { connectRedis, deletePrefixedKeys } from '../../infra/redis/connection.ts';
import { LocalStore } from '../../infra/store/local-store.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { sourceSpecSchema } from '../../schemas/source-spec.ts';
import { createSource } from '../../sources/registry.ts';
import type { SourceContext } from '../../sources/source.ts';
import { MATERIALISE_CONCURRENCY, processTranscodeJob } from '../../workers/transcode/processor.ts';
import { createWorkerDeps, type WorkerDeps } from '../../workers/worker-deps.ts';
import { TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const CLIPS = 10;
const DELAY_MS = 300;

let tmp: string;
let bundle: BundleServer;
let proxy: Server;
let proxyUrl: string;
let redis: Redis;
let context: SourceContext;
let deps: WorkerDeps;
let active = 0;
let maxActive = 0;
let audioRequests = 0;
let firstAudioAt = 0;
let lastAudioEnd = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'clapset-transcode-pool-'));
  const tree = join(tmp, 'tree');
  await mkdir(tree);
  const ffmpeg = await locateFfmpeg();
  for (let i = 0; i < CLIPS; i++) {
    await makeTone(join(tree, `clip_${String(i).padStart(2, '0')}.wav`), { ffmpegPath: ffmpeg, seconds: 0.2, sampleRate: 16000, channels: 1, format: 'wav' });
  }
  bundle = await startBundleServer({ root: tree });
  // Audio answers are held back DELAY_MS, so downloads one after another could never overlap.
  proxy = createServer((req, res) => {
    const isAudio = req.url?.endsWith('.wav') === true;
    if (isAudio) {
      if (audioRequests++ === 0) firstAudioAt = performance.now();
      maxActive = Math.max(maxActive, ++active);
    }
    const forward = () =>
      req.pipe(
        request(`${bundle.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => {
            if (!isAudio) return;
            active--;
            lastAudioEnd = performance.now();
          });
        }),
      );
    if (isAudio) setTimeout(forward, DELAY_MS);
    else forward();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  redis = connectRedis(TEST_REDIS_URL);
  context = { redis, prefix: `clapset-test-pool-${randomUUID().slice(0, 8)}`, workDir: join(tmp, 'work') };
  deps = createWorkerDeps({ ...configFromEnv(), workDir: join(tmp, 'work') }, ffmpeg);
});

after(async () => {
  await deps?.close();
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await bundle?.close();
  if (redis) {
    await deletePrefixedKeys(redis, context.prefix);
    redis.disconnect();
  }
  await rm(tmp, { recursive: true, force: true });
});

describe('transcode: downloads within a chunk', () => {
  it(`fetches up to ${MATERIALISE_CONCURRENCY} clips at once, results in clip order`, async () => {
    const spec = sourceSpecSchema.parse({ type: 'sonniss', name: 'pool', root: `${proxyUrl}/listing/`, requestsPerSecond: 100 });
    const records = [];
    for await (const record of createSource(spec, context).records()) records.push(record);
    assert.equal(records.length, CLIPS);
    const clips = records.map((record) => ({ key: sampleKey('pool', record.id), record }));
    const dataset = join(tmp, 'dataset');
    const job = { data: { dataset: { uri: dataset, caption: null }, source: spec, shard: { split: 'train', source: 'pool', index: 0, name: 'pool-000000' }, clips } };

    const results = await processTranscodeJob(job, deps, context);
    const seconds = (lastAudioEnd - firstAudioAt) / 1000;

    assert.equal(audioRequests, CLIPS);
    assert.equal(maxActive, MATERIALISE_CONCURRENCY, `at most ${MATERIALISE_CONCURRENCY} downloads overlap, and that many do`);
    assert.ok(seconds < (CLIPS * DELAY_MS) / 1000, `downloads took ${seconds.toFixed(2)} s, under the ${(CLIPS * DELAY_MS) / 1000} s of one download after another`);
    assert.deepEqual(results.map((r) => r.key), clips.map((c) => c.key));
    assert.ok(results.every((r) => r.status === 'ok'), JSON.stringify(results.filter((r) => r.status !== 'ok')));
    const store = new LocalStore(dataset);
    for (const { key } of clips) {
      for (const ext of ['flac', 'json']) assert.ok(await store.exists(`_staging/train/pool-000000/${key}.${ext}`), `${key}.${ext} staged`);
    }
  });
});
