/**
 * A configuration error stops `clapset crawl` before anything is enqueued, and a crawl in which every
 * clip failed exits non-zero. The real CLI, real Redis (a fresh key prefix per test), real workers.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forgeTinyClap } from '../../demo/forge/clap.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
let root: string;
let sounds: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-preflight-'));
  sounds = join(root, 'sounds');
  await mkdir(sounds, { recursive: true });
  await makeTone(join(sounds, 'a_dog_barks.wav'), { seconds: 1, sampleRate: 48_000, channels: 1, format: 'wav' });
  await mkdir(join(root, 'models'), { recursive: true });
  env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, CLAPSET_MODELS_DIR: join(root, 'models'), CLAPSET_CLAP_MODEL: '', CLAPSET_CAPTION_MODEL: '' };
});

after(async () => {
  await ctx.close();
  await rm(root, { recursive: true, force: true });
});

async function redisKeys(): Promise<string[]> {
  return ctx.connection.keys(`${ctx.prefix}:*`);
}

describe('clapset crawl checks its models before enqueuing', () => {
  it('a CLAP model id that is not in the models folder: exit 1 naming it, nothing enqueued or written', async () => {
    const dataset = join(root, 'absent');
    const result = await runCli(['crawl', 'local', '--root', sounds, '--dataset', dataset, '--no-caption', '--clap-model', 'clapset-test/absent', '--workers', '1'], env);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /not submitted, nothing enqueued: --clap-model clapset-test\/absent: model clapset-test\/absent is not in .*models: run `clapset models pull clapset-test\/absent`/);
    assert.deepEqual(await redisKeys(), []);
    await assert.rejects(stat(dataset), /ENOENT/);
  });

  it('a broken CLAP folder and a broken caption folder are both named, with what is wrong', async () => {
    const clap = join(root, 'broken-clap');
    await forgeTinyClap(clap, { seed: 1 });
    await rm(join(clap, 'onnx', 'text_model.onnx'));
    const t5 = join(root, 'broken-t5');
    await mkdir(t5, { recursive: true });
    await writeFile(join(t5, 'config.json'), '{"model_type":"t5"}');
    const result = await runCli(['crawl', 'local', '--root', sounds, '--dataset', join(root, 'broken'), '--clap-model', clap, '--caption-model', t5], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--clap-model .*broken-clap: .*missing onnx\/text_model\.onnx/);
    assert.match(result.stderr, /--caption-model .*broken-t5: .*missing tokenizer\.json/);
    assert.deepEqual(await redisKeys(), []);
  });
});

describe('clapset worker checks its default models at start', () => {
  it('CLAPSET_CLAP_MODEL naming an absent model: exit 1 before serving the embed queue', async () => {
    const result = await runCli(['worker', '--queues', 'embed'], { ...env, CLAPSET_CLAP_MODEL: 'clapset-test/absent' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /worker not started: CLAPSET_CLAP_MODEL clapset-test\/absent: model clapset-test\/absent is not in /);
  });
});

describe('a crawl in which every clip failed', () => {
  it('exits 1 saying so', async () => {
    const corrupt = join(root, 'corrupt');
    await mkdir(corrupt, { recursive: true });
    for (const name of ['one.wav', 'two.flac', 'three.mp3']) await writeFile(join(corrupt, name), Buffer.from('not audio at all, just bytes '.repeat(20)));
    const result = await runCli(['crawl', 'local', '--root', corrupt, '--dataset', join(root, 'all-failed'), '--no-caption', '--workers', '1', '--json'], env);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /local: all 3 clips failed — no samples written/);
  });
});
