/**
 * A smoke test of every command `clapset --help` lists, through the real CLI process: each has its
 * own help and is in the README, and the ones no other test runs end to end (doctor, features,
 * dashboard, models pull, a plain `clapset demo`) do their job here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTone } from '../../demo/providers/tone.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const BIN = resolve('bin/clapset.js');
const ctx = testQueueContext();
const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
let work = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-cli-commands-'));
});

after(async () => {
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

/** The command names of a commander help page's "Commands:" section (without `help`). */
function listedCommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

describe('every command of clapset --help', () => {
  it('has its own --help and a line in the README', async () => {
    const help = await runCli(['--help'], env);
    assert.equal(help.code, 0);
    const commands = listedCommands(help.stdout);
    for (const known of ['demo', 'crawl', 'worker', 'status', 'verify', 'stats', 'dashboard', 'doctor', 'models', 'search', 'features']) {
      assert.ok(commands.includes(known), `${known} listed in --help (${commands.join(', ')})`);
    }
    const readme = await readFile('README.md', 'utf8');
    for (const command of commands) {
      const own = await runCli([command, '--help'], env);
      assert.equal(own.code, 0, `${command} --help: ${own.stderr}`);
      assert.match(own.stdout, new RegExp(`^Usage: clapset ${command}\\b`), command);
      assert.match(readme, new RegExp(`clapset ${command}\\b`), `README documents clapset ${command}`);
      for (const sub of listedCommands(own.stdout)) {
        const subHelp = await runCli([command, sub, '--help'], env);
        assert.equal(subHelp.code, 0, `${command} ${sub} --help`);
        assert.match(readme, new RegExp(`clapset ${command} ${sub}\\b`), `README documents clapset ${command} ${sub}`);
      }
    }
  });

  it('refuses a numeric option that is not a number before doing anything', async () => {
    const result = await runCli(['status', '--watch', 'abc'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /option '--watch \[seconds\]' argument 'abc' is invalid\. not a number/);
    assert.equal(result.stdout, '', 'no status was printed');
  });

  it('doctor reports ffmpeg, Redis and the cpu device as working', async () => {
    const result = await runCli(['doctor'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ffmpeg +ok +\//m);
    assert.match(result.stdout, /^redis +ok +redis:\/\/127\.0\.0\.1:\d+/m);
    assert.match(result.stdout, /^device +cpu +ok\b/m);
    assert.match(result.stdout, /^device +webgpu +(ok|unavailable)\b/m);
  });

  it('features writes the fused model input as .npy', async () => {
    const audio = join(work, 'tone.wav');
    const out = join(work, 'tone.npy');
    await makeTone(audio, { seconds: 3, sampleRate: 44100, channels: 2, format: 'wav' });
    const result = await runCli(['features', audio, '--out', out], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\(4, 1001, 64\) float32, longer=false, 3\.000 s of audio/);
    const npy = await readFile(out);
    assert.equal(npy.subarray(1, 6).toString('latin1'), 'NUMPY');
    assert.match(npy.subarray(10, 128).toString('latin1'), /'descr': '<f4'.*'shape': \(4, 1001, 64\)/);
    assert.equal(npy.length - (10 + npy.readUInt16LE(8)), 4 * 1001 * 64 * 4, 'header plus 4×1001×64 float32');
  });

  it('dashboard serves its page, then exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'dashboard', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    let stderr = '';
    const url = await new Promise<string>((done, fail) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
        const match = /dashboard at (http:\/\/\S+?)\/?\n/.exec(stderr);
        if (match) done(match[1]!);
      });
      void exited.then((code) => fail(new Error(`dashboard exited ${code} before listening: ${stderr}`)));
    });
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });

  it('models pull names the hub it could not reach and exits non-zero', async () => {
    const result = await runCli(['models', 'pull', 'Xenova/larger_clap_general', '--hub', 'http://127.0.0.1:1'], { ...env, CLAPSET_MODELS_DIR: join(work, 'models') });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /127\.0\.0\.1:1/);
  });

  it('a plain `clapset demo` builds and verifies ./data/demo in the working folder', async () => {
    const folder = await mkdtemp(join(work, 'demo-'));
    const child = spawn(process.execPath, [BIN, 'demo'], { cwd: folder, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    assert.equal(code, 0, stderr.slice(-2000));
    const summary = lastJsonLine<{ dataset: string; shards: number; samples: number; failed: number; hours: number }>(stdout);
    assert.deepEqual(summary, { dataset: join(folder, 'data', 'demo'), shards: 4, samples: 18, failed: 3, hours: 0.029115 });
    const sizes = JSON.parse(await readFile(join(folder, 'data', 'demo', 'train', 'sizes.json'), 'utf8')) as Record<string, number>;
    assert.ok(Object.keys(sizes).length >= 1, 'train shards listed in sizes.json');
  });
});
