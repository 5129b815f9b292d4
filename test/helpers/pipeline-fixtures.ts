import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before } from 'node:test';
import tar from 'tar-stream';
import type { QueueContext } from '../../infra/queues.ts';
import { connectRedis, deletePrefixedKeys } from '../../infra/redis/connection.ts';
import type { ObjectStore } from '../../infra/store/object-store.ts';
import { SPLITS } from '../../schemas/dataset.ts';
import { makeTone, type ToneSpec } from '../../demo/providers/tone.ts';
import { makeTextAsWav, makeTruncated, makeZeroByte } from './audio-fixtures.ts';

export const TEST_REDIS_URL = process.env.CLAPSET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis context under a fresh `clapset-test-*` prefix; `close()` deletes every key it made. */
export function testQueueContext(): QueueContext & { close(): Promise<void> } {
  const prefix = `clapset-test-${randomUUID().slice(0, 8)}`;
  const connection = connectRedis(TEST_REDIS_URL);
  return {
    connection,
    prefix,
    async close() {
      await deletePrefixedKeys(connection, prefix);
      await connection.quit();
    },
  };
}

export interface Collection {
  root: string;
  /** Relative paths that must end up as samples. */
  valid: string[];
  /** Relative paths that must end up as counted failures, with the reason expected. */
  invalid: Record<string, string>;
}

const tone = (seconds: number, sampleRate: number, channels: number, format: ToneSpec['format'], extra: Partial<ToneSpec> = {}): ToneSpec => ({
  seconds, sampleRate, channels, format, ...extra,
});

/**
 * For one test file: a generated collection (see makeCollection) and an empty temporary folder,
 * made before its tests and removed after them. Read the fields inside the tests.
 */
export function collectionForTests(options: { goodCopies?: number }, folder: string): { readonly collection: Collection; readonly out: string } {
  let made: { collection: Collection; out: string } | undefined;
  before(async () => {
    made = { collection: await makeCollection(options), out: await mkdtemp(join(tmpdir(), `clapset-${folder}-`)) };
  });
  after(async () => {
    if (!made) return;
    await rm(made.collection.root, { recursive: true, force: true });
    await rm(made.out, { recursive: true, force: true });
  });
  const ready = () => {
    if (!made) throw new Error('collectionForTests: read the fixture inside a test, after its before hook');
    return made;
  };
  return { get collection() { return ready().collection; }, get out() { return ready().out; } };
}

/** The foundation issue's bad-input list plus a spread of ordinary clips, as a folder. */
export async function makeCollection(options: { goodCopies?: number } = {}): Promise<Collection> {
  const root = await mkdtemp(join(tmpdir(), 'clapset-collection-'));
  const good: Record<string, ToneSpec> = {
    'Animals/Dog_bark.wav': tone(1.5, 44100, 2, 'wav'),
    'Animals/Cat meow (soft).mp3': tone(0.7, 22050, 1, 'mp3'),
    'Weather/Rain.on.the.roof.flac': tone(12, 96000, 2, 'flac', { bitDepth: 24 }),
    'Weather/Thunder_распознать.ogg': tone(3, 48000, 2, 'ogg'),
    'Vehicles/Car pass.m4a': tone(4, 44100, 2, 'm4a'),
    'Vehicles/Horn.aiff': tone(1, 32000, 1, 'aiff'),
    'Studio/Surround_96k_24bit.wav': tone(2, 96000, 6, 'wav', { bitDepth: 24 }),
    'Studio/Eight_bit.wav': tone(0.5, 16000, 1, 'wav', { bitDepth: 8 }),
    'Studio/Thirty_two_bit.wav': tone(1, 48000, 2, 'wav', { bitDepth: 32 }),
    'Studio/Silence.wav': tone(2, 16000, 1, 'wav', { silent: true }),
  };
  for (let i = 0; i < (options.goodCopies ?? 0); i++) good[`Extra/Tone_${String(i).padStart(3, '0')}.wav`] = tone(1 + (i % 9), 44100, 2, 'wav');
  for (const [path, spec] of Object.entries(good)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await makeTone(join(root, path), spec);
  }
  await mkdir(join(root, 'Broken'), { recursive: true });
  await makeZeroByte(join(root, 'Broken/Zero_bytes.wav'));
  await makeTextAsWav(join(root, 'Broken/Text_file.wav'));
  await makeTone(join(root, 'Broken/whole.tmp.flac'), tone(6, 44100, 1, 'flac'));
  await makeTruncated(join(root, 'Broken/whole.tmp.flac'), join(root, 'Broken/Header_only.flac'), 0.002);
  await makeTruncated(join(root, 'Broken/whole.tmp.flac'), join(root, 'Broken/Cut_in_half.flac'), 0.5);
  await writeFile(join(root, 'Broken/whole.tmp.flac'), ''); // now an empty file, expected as such
  await makeTone(join(root, 'Broken/whole.tmp.mp3'), tone(4, 44100, 2, 'mp3'));
  await makeTruncated(join(root, 'Broken/whole.tmp.mp3'), join(root, 'Broken/Cut_download.mp3'), 0.4);
  await writeFile(join(root, 'Broken/whole.tmp.mp3'), '');
  return {
    root,
    valid: Object.keys(good),
    invalid: {
      'Broken/Zero_bytes.wav': 'empty_file',
      'Broken/Text_file.wav': 'decode_error',
      'Broken/Header_only.flac': 'decode_error',
      'Broken/Cut_in_half.flac': 'truncated',
      'Broken/whole.tmp.flac': 'empty_file',
      'Broken/Cut_download.mp3': 'truncated',
      'Broken/whole.tmp.mp3': 'empty_file',
    },
  };
}

export interface ReadSample {
  split: string;
  tar: string;
  key: string;
  json: Record<string, unknown>;
  flacSha256: string;
}

/** Every sample of every shard in the dataset, read back from the tars. */
export async function readSamples(store: ObjectStore): Promise<ReadSample[]> {
  const samples: ReadSample[] = [];
  for (const split of SPLITS) {
    for await (const object of store.list(`${split}/`)) {
      if (!object.key.endsWith('.tar')) continue;
      const extract = tar.extract();
      (await store.getStream(object.key)).pipe(extract as unknown as NodeJS.WritableStream);
      const partial = new Map<string, Partial<ReadSample>>();
      for await (const entry of extract as unknown as AsyncIterable<Readable & { header: { name: string } }>) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        const [key, ext] = entry.header.name.split('.') as [string, string];
        const sample = partial.get(key) ?? { split, tar: object.key, key };
        if (ext === 'json') sample.json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        else sample.flacSha256 = createHash('sha256').update(body).digest('hex');
        partial.set(key, sample);
      }
      samples.push(...([...partial.values()] as ReadSample[]));
    }
  }
  return samples;
}

/** How many shards of a local dataset are marked done (their `_stats.json` written), both splits. */
export function finishedShardCount(dir: string): number {
  return ['train', 'test'].reduce((n, split) => n + (existsSync(join(dir, split)) ? readdirSync(join(dir, split)).filter((f) => f.endsWith('_stats.json')).length : 0), 0);
}
