import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { readFlacInfo } from '../infra/audio/flac-info.ts';
import { runFfmpeg } from '../infra/ffmpeg/run-ffmpeg.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { SPLITS } from '../schemas/dataset.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { sampleJsonSchema } from '../schemas/sample.ts';
import { shardStatsSchema, sizesSchema, type ShardStats } from '../schemas/stats.ts';
import { failureKind } from '../schemas/failure.ts';
import { readManifest } from './finalise.ts';
import { StoredMatrix } from '../infra/stored-matrix.ts';
import { metadataKeys } from '../infra/parquet.ts';
import { embeddingKeys } from '../workers/embed/layout.ts';
import { memberOrderChecker } from '../workers/shard/member-order.ts';
import { MANIFEST_KEY, readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

export interface VerifyReport {
  dataset: string;
  ok: boolean;
  shards: number;
  samples: number;
  problems: string[];
}

/** FLACs decoded per ffmpeg process: one process start-up is shared by this many files. */
const DECODE_BATCH = 32;

/**
 * Reads every shard back: member names and grouping, each JSON against the sample schema, each
 * FLAC's header (48 kHz mono) and a full decode with ffmpeg, and the counts against `sizes.json`
 * and the shard's stats. The dataset is intact when `problems` is empty.
 */
export async function verifyDataset(store: ObjectStore, ffmpegPath: string, onShard?: (done: number, total: number) => void): Promise<VerifyReport> {
  const problems: string[] = [];
  let samples = 0;
  for (const key of [MANIFEST_KEY, STATS_KEY]) if (!(await store.exists(key))) problems.push(`${key} is missing`);
  const embedding = (await store.exists(MANIFEST_KEY)) ? (await readManifest(store))?.embedding ?? null : null;
  const tars: { split: string; key: string; name: string }[] = [];
  for (const split of SPLITS) {
    for await (const object of store.list(`${split}/`)) {
      if (object.key.endsWith('.tar')) tars.push({ split, key: object.key, name: object.key.slice(split.length + 1) });
    }
  }
  if (tars.length === 0) problems.push('no shards found');
  const sizesBySplit = new Map<string, Record<string, number>>();
  for (const split of new Set(tars.map((t) => t.split))) {
    const key = `${split}/sizes.json`;
    if (!(await store.exists(key))) problems.push(`${key} is missing`);
    else sizesBySplit.set(split, parseOrThrow(sizesSchema, await readJson(store, key), key));
  }

  const scratch = await mkdtemp(join(tmpdir(), 'clapset-verify-'));
  try {
    for (const [i, t] of tars.entries()) {
      const found = await verifyShard(store, t.key, ffmpegPath, scratch);
      samples += found.samples;
      problems.push(...found.problems.map((p) => `${t.key}: ${p}`));
      const expected = sizesBySplit.get(t.split)?.[t.name];
      if (sizesBySplit.has(t.split) && expected !== found.samples) problems.push(`${t.key}: sizes.json says ${expected ?? 'nothing'}, tar holds ${found.samples}`);
      const statsKey = t.key.replace(/\.tar$/, '_stats.json');
      if (!(await store.exists(statsKey))) problems.push(`${statsKey} is missing: the shard is unfinished; \`clapset repair ${store.uri}\` redoes it`);
      else {
        const stats = parseOrThrow(shardStatsSchema, await readJson(store, statsKey), statsKey);
        if (stats.successes !== found.samples) problems.push(`${statsKey} counts ${stats.successes} successes, tar holds ${found.samples}`);
        const lost = transientlyLost(stats);
        if (lost.length > 0) {
          problems.push(`${statsKey}: ${lost.length} clip(s) lost to transient causes (${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', …' : ''}); \`clapset repair ${store.uri}\` redoes the shard`);
        }
      }
      if (embedding) problems.push(...(await embeddingProblems(store, t.split, t.name.replace(/\.tar$/, ''), found.keys, embedding.dim)));
      onShard?.(i + 1, tars.length);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { dataset: store.uri, ok: problems.length === 0, shards: tars.length, samples, problems };
}

/** Keys of clips that failed for a reason outside the clip (storage, network…): a finished shard must hold none. */
export function transientlyLost(stats: ShardStats): string[] {
  return stats.clips.filter((c) => c.status === 'failed' && (c.kind ?? failureKind(c.reason ?? '')) === 'transient').map((c) => c.key);
}

async function verifyShard(store: ObjectStore, tarKey: string, ffmpegPath: string, scratch: string) {
  const order = memberOrderChecker(['flac', 'json']);
  const problems: string[] = [];
  const keys: string[] = [];
  const pending: { key: string; path: string }[] = [];
  const flush = async () => {
    problems.push(...(await decodeProblems(ffmpegPath, pending.splice(0))));
  };
  const extract = tar.extract();
  const reading = pipeline(await store.getStream(tarKey), extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract as unknown as AsyncIterable<Readable & { header: tar.Header }>) {
    const member = order.add(entry.header.name);
    if (member && keys.at(-1) !== member.key) keys.push(member.key);
    if (member?.ext === 'json') {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      try {
        const json = parseOrThrow(sampleJsonSchema, JSON.parse(Buffer.concat(chunks).toString('utf8')), `${member.key}.json`);
        if (json.key !== member.key) problems.push(`${member.key}.json names key ${json.key}`);
      } catch (error) {
        problems.push((error as Error).message);
      }
    } else if (member?.ext === 'flac') {
      const path = join(scratch, `${pending.length}.flac`);
      await pipeline(entry, createWriteStream(path));
      pending.push({ key: member.key, path });
      if (pending.length >= DECODE_BATCH) await flush();
    } else {
      entry.resume();
    }
  }
  await reading;
  await flush();
  const result = order.finish();
  return { samples: result.samples, keys, problems: [...result.problems, ...problems] };
}

/** Each shard's embedding matrices hold one `dim`-wide row per sample, and the metadata table the same keys in tar order. */
async function embeddingProblems(store: ObjectStore, split: string, shard: string, keys: readonly string[], dim: number): Promise<string[]> {
  const problems: string[] = [];
  const paths = embeddingKeys(split, shard);
  for (const key of [paths.audio, paths.text]) {
    if (!(await store.exists(key))) {
      problems.push(`${key} is missing`);
      continue;
    }
    const opened = await StoredMatrix.open(store, key).catch((error: Error) => error);
    if (opened instanceof Error) problems.push(opened.message);
    else if (opened.rows !== keys.length || opened.cols !== dim) problems.push(`${key} has shape (${opened.rows},${opened.cols}), expected (${keys.length},${dim})`);
  }
  if (!(await store.exists(paths.metadata))) problems.push(`${paths.metadata} is missing`);
  else if ((await metadataKeys(await store.getBuffer(paths.metadata))).join('\n') !== keys.join('\n')) {
    problems.push(`${paths.metadata} does not list the tar's samples in tar order`);
  }
  return problems;
}

/** Header checks plus a full decode, one ffmpeg process for the batch and one per file only when it complains. */
async function decodeProblems(ffmpegPath: string, files: { key: string; path: string }[]): Promise<string[]> {
  if (files.length === 0) return [];
  const problems: string[] = [];
  const decodable: typeof files = [];
  for (const file of files) {
    try {
      const info = await readFlacInfo(file.path);
      if (info.sampleRate !== 48000 || info.channels !== 1) problems.push(`${file.key}.flac is ${info.sampleRate} Hz, ${info.channels} channels (want 48000 Hz mono)`);
      else if (info.totalSamples === 0) problems.push(`${file.key}.flac holds no samples`);
      else decodable.push(file);
    } catch (error) {
      problems.push(`${file.key}.flac: ${(error as Error).message}`);
    }
  }
  const decode = (batch: typeof files) =>
    runFfmpeg(ffmpegPath, ['-v', 'error', '-xerror', ...batch.flatMap((f) => ['-i', f.path]), ...batch.flatMap((_, i) => ['-map', `${i}:a:0`, '-f', 'null', '-'])]);
  const batch = decodable.length > 0 ? await decode(decodable) : null;
  if (batch && (batch.code !== 0 || batch.stderr.trim() !== '')) {
    for (const file of decodable) {
      const single = await decode([file]);
      if (single.code !== 0 || single.stderr.trim() !== '') problems.push(`${file.key}.flac does not decode cleanly: ${single.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${single.code}`}`);
    }
  }
  return problems;
}
