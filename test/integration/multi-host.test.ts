/**
 * Three hosts on one machine, with Linux network namespaces: A runs Redis and the S3 server, B and C
 * run workers, joined by veth pairs on a bridge inside A (10.77.0.0/24, which exists only inside these
 * namespaces). A crawl submitted from B is shared by the workers of B and C; then C's link is cut in
 * the middle of it — its active jobs stall and B takes them over after the lock expires — and restored
 * once the crawl is done. The dataset must verify, with every clip once. The collection itself is a
 * local folder, as a fleet would share it over a network mount.
 *
 * Needs root and iproute2 (CI runs as root). Namespaces are removed on exit, failure included.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { makeTone } from '../../demo/providers/tone.ts';
import { lastJsonLine } from '../helpers/cli.ts';

const BIN = resolve('bin/clapset.js');
const S3RVER_SCRIPT = resolve('test/helpers/s3rver-process.ts');
const TAG = String(process.pid % 100000);
const NS = { a: `clapset-${TAG}-a`, b: `clapset-${TAG}-b`, c: `clapset-${TAG}-c` };
const ADDRESS = { a: '10.77.0.1', b: '10.77.0.2', c: '10.77.0.3' };
const BUCKET = 'clapset-multihost';
const REDIS_PASSWORD = `fleet-secret-${TAG}-x7`;
const CLIPS = 40;
// No clip finished for this long means the fleet is stuck, however slow the machine.
const NO_PROGRESS_MS = 150_000;

const children: ChildProcess[] = [];
let work = '';

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || result.error?.message}`);
}

function removeNamespaces(): void {
  for (const child of children) child.kill('SIGKILL');
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}
process.once('exit', removeNamespaces);

/** A: bridge with 10.77.0.1; B and C: one veth each onto it. Only these addresses and 127.0.0.1. */
function buildHosts(): void {
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', NS.a, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', NS.a, 'addr', 'add', `${ADDRESS.a}/24`, 'dev', 'br0');
  ip('-n', NS.a, 'link', 'set', 'br0', 'up');
  for (const host of ['b', 'c'] as const) {
    const [hub, leg] = [`cs${TAG}${host}a`, `cs${TAG}${host}`];
    ip('link', 'add', hub, 'netns', NS.a, 'type', 'veth', 'peer', 'name', leg, 'netns', NS[host]);
    ip('-n', NS.a, 'link', 'set', hub, 'master', 'br0', 'up');
    ip('-n', NS[host], 'addr', 'add', `${ADDRESS[host]}/24`, 'dev', leg);
    ip('-n', NS[host], 'link', 'set', leg, 'up');
  }
}

function setLink(host: 'c', state: 'up' | 'down'): void {
  ip('-n', NS[host], 'link', 'set', `cs${TAG}${host}`, state);
}

/** Starts `command` inside a namespace, stdout+stderr to `logFile`. */
function startIn(ns: string, command: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...command], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  children.push(child);
  return child;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((done) => child.once('exit', (code) => done(code)));
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** `job completed` lines of a worker's JSON log, per stage. */
async function completedJobs(logFile: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const line of (await readFile(logFile, 'utf8').catch(() => '')).split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; stage?: string };
    if (entry.msg === 'job completed' && entry.stage) counts[entry.stage] = (counts[entry.stage] ?? 0) + 1;
  }
  return counts;
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the multi-host test builds network namespaces and needs root (CI runs as root)');
  work = await mkdtemp(join(tmpdir(), 'clapset-multihost-'));
  const collection = join(work, 'collection');
  await mkdir(collection);
  for (let i = 0; i < CLIPS; i++) {
    await makeTone(join(collection, `tone-${String(i).padStart(2, '0')}.wav`), { seconds: 1 + (i % 4) * 0.5, sampleRate: 44100, channels: 2, format: 'wav' });
  }
  buildHosts();
});

after(async () => {
  removeNamespaces();
  await rm(work, { recursive: true, force: true });
});

test('workers on two hosts share a crawl; cutting one host off mid-crawl loses and duplicates nothing', async (t) => {
  // Host A: Redis (noeviction, no persistence) and the S3 server, on the bridge address.
  const redis = startIn(NS.a, ['redis-server', '--bind', ADDRESS.a, '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--requirepass', REDIS_PASSWORD], process.env, join(work, 'redis.log'));
  const redisFromB = () => spawnSync('ip', ['netns', 'exec', NS.b, 'redis-cli', '-h', ADDRESS.a, '--no-auth-warning', '-a', REDIS_PASSWORD, 'ping'], { encoding: 'utf8' }).stdout.trim();
  await waitFor('Redis on A, from B', async () => (redisFromB() === 'PONG' ? true : undefined));
  const s3 = spawn('ip', ['netns', 'exec', NS.a, process.execPath, '--openssl-legacy-provider', '--import', 'tsx', S3RVER_SCRIPT, join(work, 's3'), BUCKET, '9000'], {
    env: { ...process.env, S3RVER_ADDRESS: ADDRESS.a, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(s3);
  await waitFor('the S3 server', async () => ((await new Promise<string>((done) => s3.stdout!.once('data', (d: Buffer) => done(String(d))))).includes('"port"') ? true : undefined));

  const env = {
    ...process.env,
    // A password, as any Redis reachable beyond loopback needs (protected mode refuses others).
    CLAPSET_REDIS_URL: `redis://:${REDIS_PASSWORD}@${ADDRESS.a}:6379`,
    CLAPSET_PREFIX: 'multihost',
    CLAPSET_S3_ENDPOINT: `http://${ADDRESS.a}:9000`,
    CLAPSET_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  const node = (...args: string[]) => [process.execPath, BIN, ...args];
  const logB = join(work, 'worker-b.log');
  const logC = join(work, 'worker-c.log');
  const workerB = startIn(NS.b, node('worker', '--concurrency', '1'), { ...env, CLAPSET_WORK_DIR: join(work, 'scratch-b') }, logB);
  const workerC = startIn(NS.c, node('worker', '--concurrency', '1'), { ...env, CLAPSET_WORK_DIR: join(work, 'scratch-c') }, logC);
  for (const log of [logB, logC]) {
    await waitFor(`worker start (${log})`, async () => ((await readFile(log, 'utf8').catch(() => '')).includes('worker started') ? true : undefined)).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${(await readFile(log, 'utf8')).slice(-2000)}`);
    });
  }

  const dataset = `s3://${BUCKET}/fleet`;
  const crawlLog = join(work, 'crawl.log');
  const crawl = startIn(NS.b, node('crawl', 'local', '--root', join(work, 'collection'), '--dataset', dataset, '--shard-size', '8', '--chunk-size', '2', '--no-caption', '--json'), env, crawlLog);
  const crawlExit = exitOf(crawl);

  // Once C has done some of the work, cut it off while the rest is still queued.
  await waitFor('a transcode job finished on C', async () => ((await completedJobs(logC)).transcode ?? 0) >= 1 || undefined, NO_PROGRESS_MS);
  setLink('c', 'down');
  const cutAt = await completedJobs(logC);
  t.diagnostic(`C cut off after ${JSON.stringify(cutAt)}`);

  // The crawl must finish on B alone; the deadline is on lack of progress, not on total time.
  let last = JSON.stringify(await completedJobs(logB));
  let lastChange = Date.now();
  while (crawl.exitCode === null) {
    await Promise.race([crawlExit, sleep(1000)]);
    const now = JSON.stringify(await completedJobs(logB));
    if (now !== last) [last, lastChange] = [now, Date.now()];
    assert.ok(Date.now() - lastChange < NO_PROGRESS_MS, `no job finished on B for ${NO_PROGRESS_MS / 1000} s; crawl log: ${await readFile(crawlLog, 'utf8')}`);
  }
  const crawlOutput = await readFile(crawlLog, 'utf8');
  assert.equal(await crawlExit, 0, crawlOutput.slice(-3000));
  const summary = lastJsonLine<{ samples: number; failed: number }>(crawlOutput);
  assert.equal(summary.samples, CLIPS, `every clip a sample: ${JSON.stringify(summary)}`);
  assert.equal(summary.failed, 0);

  setLink('c', 'up');
  const byB = await completedJobs(logB);
  const byC = await completedJobs(logC);
  t.diagnostic(`jobs completed: B ${JSON.stringify(byB)}, C ${JSON.stringify(byC)}`);
  assert.ok((byB.transcode ?? 0) >= 1 && (byC.transcode ?? 0) >= 1, 'both hosts transcoded');

  // From B: the dataset reads back complete, every clip exactly once.
  const verifyLog = join(work, 'verify.log');
  const verify = startIn(NS.b, node('verify', dataset, '--json'), env, verifyLog);
  assert.equal(await exitOf(verify), 0, await readFile(verifyLog, 'utf8'));
  const report = JSON.parse((await readFile(verifyLog, 'utf8')).split('\n').find((line) => line.startsWith('{'))!) as { ok: boolean; samples: number; problems: unknown[] };
  assert.deepEqual([report.ok, report.samples, report.problems], [true, CLIPS, []], 'every clip read back once');

  for (const log of [logB, logC, crawlLog, verifyLog]) {
    assert.ok(!(await readFile(log, 'utf8')).includes(REDIS_PASSWORD), `the Redis password stays out of ${log}`);
  }
  for (const worker of [workerB, workerC]) worker.kill('SIGTERM');
  for (const worker of [workerB, workerC]) await Promise.race([exitOf(worker), sleep(45_000)]);
  redis.kill('SIGTERM');
});
