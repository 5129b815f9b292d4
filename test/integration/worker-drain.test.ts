import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../infra/package-root.ts';
import { openQueue, STAGES } from '../../infra/queues.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { spawnLocalWorkers } from '../../crawl/local-workers.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { collectionForTests, readSamples, testQueueContext, TEST_REDIS_URL, finishedShardCount } from '../helpers/pipeline-fixtures.ts';

const fixture = collectionForTests({ goodCopies: 14 }, 'drain');
const BIN = join(PACKAGE_ROOT, 'bin', 'clapset.js');

interface LogLine { msg: string; pid: number; time: string; queue?: string; job?: string; host?: string }
const logLines = (file: string): LogLine[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine) : [];

/** Waits while `check` is false, failing only when nothing has changed (`progress()`) for `idleMs`: a slow machine is not a failure. */
async function waitFor(check: () => boolean, progress: () => unknown, idleMs: number, what: string): Promise<void> {
  let last = JSON.stringify(progress());
  let since = Date.now();
  while (!check()) {
    await new Promise((r) => setTimeout(r, 50));
    const now = JSON.stringify(progress());
    if (now !== last) [last, since] = [now, Date.now()];
    if (Date.now() - since > idleMs) throw new Error(`no progress for ${idleMs} ms waiting for ${what}`);
  }
}

/** SIGTERMs a worker process and waits for it to exit: its exit code and the seconds that took. */
async function drainWorker(child: ChildProcess): Promise<{ code: number | null; seconds: number }> {
  const signalled = Date.now();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return { code, seconds: (Date.now() - signalled) / 1000 };
}

test('SIGTERM to the worker holding the crawl: it exits within its grace, another worker continues at once, the dataset is complete', async (t) => {
  const ctx = testQueueContext();
  const dataset = join(fixture.out, 'dataset');
  const logFile = join(fixture.out, 'workers.log');
  const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
  const workers = spawnLocalWorkers(2, { env, stages: STAGES, concurrency: 1, logFile });
  try {
    const crawl = runCli(
      ['crawl', 'local', '--root', fixture.collection.root, '--name', 'drain', '--dataset', dataset, '--shard-size', '2', '--chunk-size', '1', '--max-shards-in-flight', '1', '--json'],
      env,
    );
    await waitFor(() => finishedShardCount(dataset) >= 1, () => logLines(logFile).length, 60_000, 'the first shard');
    const holder = logLines(logFile).find((l) => l.msg === 'crawl job started')!;
    const child = workers.processes.find((p) => p.pid === holder.pid)!;
    assert.ok(child, `the crawl runs in one of the test's workers (pid ${holder.pid})`);

    const { code, seconds: drainSeconds } = await drainWorker(child);
    assert.equal(code, 0);
    assert.ok(drainSeconds < 30, `drained in ${drainSeconds} s, within the default 30-s grace`);

    const released = logLines(logFile).find((l) => l.msg === 'job released on shutdown' && l.pid === holder.pid);
    assert.ok(released && released.queue === 'crawl' && released.job && released.host, `a JSON line names queue, job, host and pid: ${JSON.stringify(released)}`);
    const other = workers.processes.find((p) => p !== child)!;
    await waitFor(() => logLines(logFile).some((l) => l.msg === 'crawl job started' && l.pid === other.pid), () => 0, 10_000, 'the other worker to continue the crawl');
    const resumedAt = Date.parse(logLines(logFile).find((l) => l.msg === 'crawl job started' && l.pid === other.pid)!.time);
    assert.ok(resumedAt - Date.parse(released.time) < 10_000, 'continued within 10 s of the release');
    t.diagnostic(`drained in ${drainSeconds.toFixed(2)} s; crawl continued ${((resumedAt - Date.parse(released.time)) / 1000).toFixed(2)} s after its release`);

    const done = await crawl;
    assert.equal(done.code, 0, done.stderr);
    const summary = lastJsonLine<{ samples: number }>(done.stdout);
    assert.equal(summary.samples, fixture.collection.valid.length);
    const samples = await readSamples(openStore(dataset));
    assert.equal(samples.length, fixture.collection.valid.length);
    assert.equal(new Set(samples.map((s) => s.key)).size, samples.length, 'no sample twice');
    const verify = await runCli(['verify', dataset], env);
    assert.equal(verify.code, 0, verify.stdout);
  } finally {
    await workers.stop();
    await ctx.close();
  }
});

test('a rolling SIGTERM restart of every worker during a crawl ends with the same dataset as an uninterrupted run, and stalls no job', async (t) => {
  const ctx = testQueueContext();
  const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
  const crawlArgs = (dataset: string, extra: string[] = []) =>
    ['crawl', 'local', '--root', fixture.collection.root, '--name', 'rolling', '--dataset', dataset, '--shard-size', '2', '--chunk-size', '1', '--max-shards-in-flight', '2', '--json', ...extra];
  const reference = join(fixture.out, 'rolling-reference');
  const uninterrupted = await runCli(crawlArgs(reference, ['--workers', '2']), env);
  assert.equal(uninterrupted.code, 0, uninterrupted.stderr);

  const dataset = join(fixture.out, 'rolling');
  const logFile = join(fixture.out, 'rolling.log');
  const start = () => spawnLocalWorkers(1, { env, stages: STAGES, concurrency: 1, logFile });
  const fleet = [start(), start()];
  try {
    const crawl = runCli(crawlArgs(dataset), env);
    const drains: number[] = [];
    // Replace each original worker in turn, each after one more shard is done.
    for (const [i, old] of [...fleet].entries()) {
      await waitFor(() => finishedShardCount(dataset) >= i + 1, () => logLines(logFile).length, 60_000, `shard ${i + 1}`);
      const { code, seconds } = await drainWorker(old.processes[0]!);
      assert.equal(code, 0);
      drains.push(seconds);
      fleet.push(start());
    }
    const done = await crawl;
    assert.equal(done.code, 0, done.stderr);
    t.diagnostic(`drains took ${drains.map((s) => s.toFixed(2)).join(', ')} s`);
    const digest = async (dir: string) =>
      (await readSamples(openStore(dir))).map((s) => `${s.split}/${s.key} ${s.flacSha256} ${JSON.stringify(s.json)}`).sort();
    assert.deepEqual(await digest(dataset), await digest(reference), 'same samples, same audio, same JSON');
    assert.equal((await digest(dataset)).length, fixture.collection.valid.length);
    assert.deepEqual(logLines(logFile).filter((l) => /stalled|lock lost/.test(l.msg)), [], 'no job stalled or lost its lock');
  } finally {
    await Promise.all(fleet.map((w) => w.stop()));
    await ctx.close();
  }
});

test('a job still running when the grace ends is handed back: the worker exits within its grace, its ffmpeg with it, and another worker finishes the crawl', async (t) => {
  const ctx = testQueueContext();
  const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
  // The real ffmpeg, 60 s late for everything but the start-up probe: a transcode outlasting any grace.
  const pids = join(fixture.out, 'slow-ffmpeg.pids');
  const slowFfmpeg = join(fixture.out, 'slow-ffmpeg');
  writeFileSync(slowFfmpeg, `#!/bin/sh\ncase " $* " in *" -version "*) exec ffmpeg "$@";; esac\necho $$ >> ${pids}\nsleep 60\nexec ffmpeg "$@"\n`, { mode: 0o755 });
  const logFile = join(fixture.out, 'grace.log');
  const log = openSync(logFile, 'a');
  const grace = 3;
  const slow = spawn(process.execPath, [BIN, 'worker', '--concurrency', '1', '--grace', String(grace)], { env: { ...env, FFMPEG_PATH: slowFfmpeg }, stdio: ['ignore', log, log] });
  const dataset = join(fixture.out, 'grace');
  let rescuer: ReturnType<typeof spawnLocalWorkers> | undefined;
  const transcode = openQueue(ctx, 'transcode');
  try {
    const crawl = runCli(['crawl', 'local', '--root', fixture.collection.root, '--name', 'grace', '--dataset', dataset, '--shard-size', '4', '--chunk-size', '2', '--json'], env);
    await waitFor(() => existsSync(pids), () => logLines(logFile).length, 60_000, 'a transcode to start');
    assert.equal(await transcode.getActiveCount(), 1, 'the slow worker holds one transcode job');
    const { code, seconds } = await drainWorker(slow);
    assert.equal(code, 0);
    // Within the grace; one more second for the process to end on a loaded machine.
    assert.ok(seconds < grace + 1, `exited ${seconds.toFixed(2)} s after SIGTERM (grace ${grace} s)`);
    t.diagnostic(`exited ${seconds.toFixed(2)} s after SIGTERM (grace ${grace} s)`);
    const released = logLines(logFile).filter((l) => l.msg === 'job released on shutdown' && l.queue === 'transcode');
    assert.equal(released.length, 1, 'the running transcode job was handed back');
    assert.equal((released[0] as LogLine & { why?: string }).why, 'grace period over');
    const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const started = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    await waitFor(() => !started.some(alive), () => 0, 5000, 'the slow ffmpeg to be killed with its worker');

    rescuer = spawnLocalWorkers(1, { env, stages: STAGES, concurrency: 1, logFile });
    const done = await crawl;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(lastJsonLine<{ samples: number }>(done.stdout).samples, fixture.collection.valid.length);
    assert.equal((await readSamples(openStore(dataset))).length, fixture.collection.valid.length);
  } finally {
    slow.kill('SIGKILL');
    await rescuer?.stop();
    await transcode.close();
    closeSync(log);
    await ctx.close();
  }
});
