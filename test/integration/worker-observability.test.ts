import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { makeTone } from '../../demo/providers/tone.ts';
import { makeTextAsWav } from '../helpers/audio-fixtures.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';
import { startWorkerObservability, type ReadinessCheck } from '../../workers/observability.ts';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { forgeTinyT5 } from '../../demo/forge/t5.ts';

const BIN = fileURLToPath(new URL('../../bin/clapset.js', import.meta.url));
const ctx = testQueueContext();
const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
let work: string;

interface Worker {
  child: ChildProcess;
  port: number;
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[];
}

/** Starts a real `clapset worker` process and waits for its metrics port to be logged. */
function startWorker(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Worker> {
  const child = spawn(process.execPath, [BIN, 'worker', '--metrics-port', '0', '--metrics-host', '127.0.0.1', ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before listening: ${JSON.stringify(lines)}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(entry);
      if (entry.msg === 'worker metrics listening') resolve({ child, port: entry.port as number, lines });
    });
  });
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null) return;
  const exited = new Promise((r) => worker.child.once('exit', r));
  worker.child.kill('SIGTERM');
  await exited;
}

const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`);

/** The value of one Prometheus sample whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-observe-'));
  await mkdir(join(work, 'collection'), { recursive: true });
  for (const [i, name] of ['Bell.wav', 'Chime.wav', 'Gong.wav'].entries()) {
    await makeTone(join(work, 'collection', name), { seconds: 1 + i, sampleRate: 44100, channels: 1, format: 'wav' });
  }
  await makeTextAsWav(join(work, 'collection', 'Fake.wav'));
});

after(async () => {
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

test('a worker serves /healthz, /readyz and /metrics that count the jobs and clips of a real crawl, and logs each completion with host and duration', async () => {
  const queues = 'crawl,transcode,shard';
  const worker = await startWorker(['--queues', queues, '--ready-store', join(work, 'dataset')]);
  try {
    const health = await get(worker.port, '/healthz');
    assert.equal(health.status, 200);
    const healthBody = (await health.json()) as { ok: boolean; host: string; queues: string };
    assert.deepEqual([healthBody.ok, healthBody.host, healthBody.queues], [true, hostname(), queues]);

    const ready = await get(worker.port, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { redis: 'ok', store: 'ok' });

    const crawl = await runCli(['crawl', 'local', '--root', join(work, 'collection'), '--name', 'obs', '--dataset', join(work, 'dataset'), '--no-caption', '--json'], env);
    assert.equal(crawl.code, 0, crawl.stderr);
    assert.equal(lastJsonLine<{ samples: number }>(crawl.stdout).samples, 3);

    const metrics = await get(worker.port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await metrics.text();
    const labels = { host: hostname(), queues };
    assert.equal(sample(text, 'clapset_worker_clips_total', { ...labels, stage: 'transcode', outcome: 'ok' }), 3);
    assert.equal(sample(text, 'clapset_worker_clips_total', { ...labels, stage: 'transcode', outcome: 'failed' }), 1, 'the text file posing as WAV');
    const shardJobs = sample(text, 'clapset_worker_jobs_total', { ...labels, stage: 'shard', outcome: 'completed' }) ?? 0;
    assert.ok(shardJobs >= 1, 'at least one shard job completed');
    assert.equal(sample(text, 'clapset_worker_job_duration_seconds_count', { ...labels, stage: 'shard', outcome: 'completed' }), shardJobs);
    assert.equal(sample(text, 'clapset_worker_jobs_total', { ...labels, stage: 'crawl', outcome: 'completed' }), 1);
    assert.equal(sample(text, 'clapset_worker_jobs_total', { ...labels, stage: 'transcode', outcome: 'failed' }), 0);
    assert.ok((sample(text, 'process_cpu_user_seconds_total', labels) ?? 0) > 0, 'process metrics carry the labels');
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds', labels) !== undefined);

    const completions = worker.lines.filter((l) => l.msg === 'job completed');
    assert.deepEqual([...new Set(completions.map((l) => l.stage))].sort(), ['crawl', 'shard', 'transcode']);
    for (const line of completions) {
      assert.equal(line.host, hostname());
      assert.equal(typeof line.seconds, 'number');
    }
  } finally {
    await stopWorker(worker);
  }
});

test('/metrics counts the shared model batchers\' runs and items of the caption and embed stages', async () => {
  await forgeTinyT5(join(work, 't5'), { seed: 3 });
  await forgeTinyClap(join(work, 'clap'), { seed: 3 });
  // Tagged by their folders and over 2 s, so each gets a T5 caption (LAION's keyword rule).
  const tagged = join(work, 'tagged');
  for (const [i, name] of ['Bell.wav', 'Chime.wav', 'Gong.wav'].entries()) {
    await mkdir(join(tagged, 'Percussion', 'Metal'), { recursive: true });
    await makeTone(join(tagged, 'Percussion', 'Metal', name), { seconds: 2.5 + i, sampleRate: 44100, channels: 1, format: 'wav' });
  }
  const queues = 'crawl,transcode,caption,embed,shard';
  // CLAPSET_*_MODEL: the worker loads (and so reports) the models the crawl names.
  const worker = await startWorker(['--queues', queues, '--batch-size', '4'], { CLAPSET_CAPTION_MODEL: join(work, 't5'), CLAPSET_CLAP_MODEL: join(work, 'clap') });
  try {
    const labels = { host: hostname(), queues };
    const before = await (await get(worker.port, '/metrics')).text();
    assert.equal(sample(before, 'clapset_worker_model_items_total', { ...labels, batcher: 'clap-audio' }), 0, 'loaded at start, nothing run yet');
    const dataset = join(work, 'models-dataset');
    const crawl = await runCli(['crawl', 'local', '--root', tagged, '--name', 'batches', '--dataset', dataset, '--caption-model', join(work, 't5'), '--clap-model', join(work, 'clap'), '--json'], env);
    assert.equal(crawl.code, 0, crawl.stderr);
    assert.equal(lastJsonLine<{ samples: number }>(crawl.stdout).samples, 3);
    const text = await (await get(worker.port, '/metrics')).text();
    const model = (batcher: string, name: string) => sample(text, name, { ...labels, batcher, model: join(work, batcher === 't5' ? 't5' : 'clap') }) ?? 0;
    assert.equal(model('clap-audio', 'clapset_worker_model_items_total'), 3, 'one audio embedding per sample');
    const audioRuns = model('clap-audio', 'clapset_worker_model_runs_total');
    assert.ok(audioRuns >= 1 && audioRuns <= 3, `audio runs: ${audioRuns}`);
    assert.ok(model('clap-text', 'clapset_worker_model_items_total') >= 3, 'every sample has captions to embed');
    assert.ok(model('t5', 'clapset_worker_model_runs_total') >= 1 && model('t5', 'clapset_worker_model_items_total') >= 3, 'T5 captioned each sample');
    assert.ok(model('clap-audio', 'clapset_worker_model_merged_runs_total') <= audioRuns);
  } finally {
    await stopWorker(worker);
  }
});

test('/readyz answers 503 naming the object store when it does not answer, while /healthz stays 200', async () => {
  const worker = await startWorker(['--queues', 'transcode', '--ready-store', 's3://readyz-bucket/ds'], {
    CLAPSET_S3_ENDPOINT: 'http://127.0.0.1:1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'readyz-secret-value',
  });
  try {
    const ready = await get(worker.port, '/readyz');
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, string> };
    assert.equal(body.ready, false);
    assert.equal(body.checks.redis, 'ok');
    assert.notEqual(body.checks.store, 'ok');
    assert.match(body.checks.store!, /unreachable|no answer/);
    assert.equal((await get(worker.port, '/healthz')).status, 200);
  } finally {
    await stopWorker(worker);
  }
});

test('/readyz turns 503 once draining, and a failing check names its error', async () => {
  let redisUp = true;
  const check: ReadinessCheck = {
    name: 'redis',
    probe: async () => {
      if (!redisUp) throw new Error('connection reconnecting');
    },
  };
  const server = await startWorkerObservability({ port: 0, host: '127.0.0.1', queues: ['caption', 'embed'], checks: [check] });
  try {
    assert.equal((await get(server.port, '/readyz')).status, 200);
    redisUp = false;
    const down = await get(server.port, '/readyz');
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { checks: { redis: string } }).checks.redis, 'connection reconnecting');
    redisUp = true;
    server.setDraining();
    const draining = await get(server.port, '/readyz');
    assert.equal(draining.status, 503);
    assert.equal(((await draining.json()) as { draining: boolean }).draining, true);
    assert.equal(sample(await (await get(server.port, '/metrics')).text(), 'clapset_worker_draining', { queues: 'caption,embed' }), 1);
    assert.equal((await get(server.port, '/nothing')).status, 404);
  } finally {
    await server.close();
  }
});
