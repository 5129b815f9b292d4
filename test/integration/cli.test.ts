import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import tar from 'tar-stream';
import { tarStream } from '../../workers/shard/tar-writer.ts';
import { makeTone } from '../../demo/providers/tone.ts';
import { makeTextAsWav } from '../helpers/audio-fixtures.ts';
import { lastJsonLine, runCli } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const ctx = testQueueContext();
const env = { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix };
let work: string;
let dataset: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'clapset-cli-'));
  dataset = join(work, 'dataset');
  const root = join(work, 'collection');
  await mkdir(join(root, 'Sub'), { recursive: true });
  for (const [i, name] of ['Bell.wav', 'Sub/Chime.wav', 'Sub/Gong.wav', 'Whistle.wav'].entries()) {
    await makeTone(join(root, name), { seconds: 1 + i, sampleRate: 44100, channels: 2, format: 'wav' });
  }
  await makeTextAsWav(join(root, 'Sub/Fake.wav'));
  await writeFile(
    join(root, 'clips.csv'),
    [
      'file,caption,tags,license,recordist',
      'Bell.wav,"A bell, struck once",metal;bell,cc0,"Ann ""Bell"" Smith"',
      'Sub/Chime.wav,Wind chime | Chimes in wind,,cc-by-4.0,',
      'Sub/Gong.wav,,,,',
      'Whistle.wav,Referee whistle,,,Jo',
      'Sub/Fake.wav,A text file,,,',
      'Missing.wav,Nothing here,,,',
      '../../etc/passwd,Escape attempt,,,',
      'Bell.wav,"unterminated',
    ].join('\n'),
  );
});

after(async () => {
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

test('--help documents every command', async () => {
  const help = await runCli(['--help'], env);
  assert.equal(help.code, 0);
  for (const command of ['demo', 'crawl', 'worker', 'status', 'verify', 'stats']) {
    assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`), `${command} listed`);
    const own = await runCli([command, '--help'], env);
    assert.equal(own.code, 0, `${command} --help`);
    assert.match(own.stdout, /Usage: clapset/);
  }
});

test('bad options are refused with the field and value named', async () => {
  const result = await runCli(['crawl', 'local', '--root', work, '--dataset', join(work, 'x'), '--shard-size', '-2'], env);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /dataset\.shardSize: .*got -2/);
});

test('an unreachable S3 endpoint is a clear error and nothing is queued or marked done', async () => {
  const result = await runCli(['crawl', 'local', '--root', join(work, 'collection'), '--dataset', 's3://nowhere-bucket/ds'], {
    ...env,
    CLAPSET_S3_ENDPOINT: 'http://127.0.0.1:1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'very-secret-value-123',
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /127\.0\.0\.1:1.*unreachable|unreachable.*127\.0\.0\.1:1/);
  assert.ok(!result.stderr.includes('very-secret-value-123'), 'the secret stays out of the error');
  const keys = (await ctx.connection.keys(`${ctx.prefix}:crawl:*`)).filter((k) => !k.endsWith(':meta'));
  assert.deepEqual(keys, [], 'no crawl job was added');
});

test('crawl with a CSV manifest, then stats and status report it and verify passes', async () => {
  const crawl = await runCli(
    ['crawl', 'local', '--root', join(work, 'collection'), '--manifest', join(work, 'collection', 'clips.csv'), '--name', 'bells', '--dataset', dataset, '--shard-size', '3', '--workers', '1', '--json'],
    env,
  );
  assert.equal(crawl.code, 0, crawl.stderr);
  const summary = lastJsonLine<{ samples: number; failed: number }>(crawl.stdout);
  assert.equal(summary.samples, 4);
  assert.equal(summary.failed, 4, 'text file, missing file, escaping path, malformed row');

  const stats = await runCli(['stats', dataset, '--json'], env);
  const parsed = lastJsonLine<{ sources: Record<string, { samples: number; failed: Record<string, number>; licenses: Record<string, number> }> }>(stats.stdout);
  assert.deepEqual(parsed.sources.bells!.failed, { decode_error: 1, missing_file: 1, path_outside_collection: 1, invalid_record: 1 });
  assert.deepEqual(parsed.sources.bells!.licenses, { cc0: 1, 'cc-by-4.0': 1, unknown: 2 });

  const status = await runCli(['status', '--json'], env);
  const crawls = lastJsonLine<{ crawls: { state: string; source: string }[] }>(status.stdout).crawls;
  assert.deepEqual(crawls.map((c) => [c.source, c.state]), [['bells', 'completed']]);

  const verify = await runCli(['verify', dataset], env);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /4 samples — intact/);

  const card = await readFile(join(dataset, 'README.md'), 'utf8');
  assert.match(card, /\| bells \| 4 \|/);
});

test('verify exits non-zero on a shard with split samples, a corrupt FLAC and a missing stats file', async () => {
  const tarPath = join(dataset, 'train', 'bells-000000.tar');
  const members: { name: string; body: Buffer }[] = [];
  const extract = tar.extract();
  const reading = new Promise<void>((resolve) => extract.on('finish', () => resolve()));
  extract.end(await readFile(tarPath));
  for await (const entry of extract as unknown as AsyncIterable<Readable & { header: { name: string } }>) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    members.push({ name: entry.header.name, body: Buffer.concat(chunks) });
  }
  await reading;
  assert.ok(members.length >= 4, 'the shard has at least two samples');
  const [aFlac, aJson, bFlac, bJson, ...rest] = members as [typeof members[0], typeof members[0], typeof members[0], typeof members[0]];
  const corrupt = Buffer.from(bFlac.body);
  for (let i = 200; i < corrupt.length - 100; i += 97) corrupt[i] = corrupt[i]! ^ 0xff;
  const tampered = [aFlac, bFlac, { ...bFlac, body: corrupt, name: bFlac.name }, bJson, aJson, ...rest];
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(tampered.map((m) => ({ name: m.name, size: m.body.length, body: m.body })))) chunks.push(chunk as Buffer);
  await writeFile(tarPath, Buffer.concat(chunks));
  await rm(join(dataset, 'train', 'bells-000000_stats.json'), { force: true });

  const verify = await runCli(['verify', dataset, '--json'], env);
  assert.equal(verify.code, 1);
  const report = lastJsonLine<{ ok: boolean; problems: string[] }>(verify.stdout);
  assert.equal(report.ok, false);
  const problems = report.problems.join('\n');
  assert.match(problems, /appears again after other samples/);
  assert.match(problems, /flac twice/);
  assert.match(problems, /does not decode cleanly/);
  assert.match(problems, /bells-000000_stats\.json is missing/);
});
