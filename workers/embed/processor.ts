import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Job } from 'bullmq';
import { chunkStageJobSchema, type ClipResult } from '../../schemas/jobs.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { sampleJsonSchema } from '../../schemas/sample.ts';
import { chainedClipResults } from '../child-results.ts';
import type { WorkerDeps } from '../worker-deps.ts';
import { readJson, shardKeys } from '../../infra/store/dataset-layout.ts';
import { mapPool } from '../../infra/pool.ts';

/** `<key>.emb` in staging: the audio embedding then the text embedding, float32 little-endian. */
export function encodeStagedEmbedding(audio: Float32Array, text: Float32Array): Buffer {
  const out = Buffer.alloc((audio.length + text.length) * 4);
  audio.forEach((v, i) => out.writeFloatLE(v, i * 4));
  text.forEach((v, i) => out.writeFloatLE(v, (audio.length + i) * 4));
  return out;
}

export function decodeStagedEmbedding(bytes: Buffer, dim: number): { audio: Float32Array; text: Float32Array } {
  if (bytes.length !== dim * 8) throw new Error(`staged embedding of ${bytes.length} bytes, expected ${dim * 8}`);
  const all = new Float32Array(dim * 2);
  for (let i = 0; i < all.length; i++) all[i] = bytes.readFloatLE(i * 4);
  return { audio: all.subarray(0, dim), text: all.subarray(dim) };
}

/** Clips of one chunk fetched and turned into features at once (decode in ffmpeg, features on the pool). */
const CLIPS_IN_FLIGHT = 2;

/**
 * CLAP embeddings for one chunk: features from each staged FLAC (the checkpoint's truncation,
 * seeded by the sample key so a rerun reproduces; computed on the embedder's feature threads), the
 * audio pass, and the text embedding of each sample's first caption; staged as `<key>.emb` for the
 * shard writer. The audio and text runs are shared with the other chunk jobs in flight in this
 * process (ClapEmbedder.beginJob), so the model gets full batches while a chunk downloads.
 */
export async function processEmbedJob(job: Pick<Job, 'data' | 'getChildrenValues' | 'getIgnoredChildrenFailures'>, deps: WorkerDeps): Promise<ClipResult[]> {
  const data = parseOrThrow(chunkStageJobSchema, job.data, 'embed job');
  if (!data.dataset.embed) throw new Error('embed job for a dataset without an embed stage');
  const store = deps.store(data.dataset.uri);
  const staging = shardKeys(data.shard).staging;
  const results = await chainedClipResults(job);
  const ok = results.filter((r) => r.status === 'ok');
  if (ok.length === 0) return results;
  const embedder = await deps.embedder(data.dataset.embed);
  await mkdir(deps.workRoot, { recursive: true });
  const workDir = await mkdtemp(join(deps.workRoot, 'embed-'));
  const clap = embedder.beginJob();
  try {
    const features = await mapPool(ok, CLIPS_IN_FLIGHT, async (r) => {
      const path = join(workDir, `${r.key}.flac`);
      await pipeline(await store.getStream(`${staging}${r.key}.flac`), createWriteStream(path));
      const { features: clip } = await embedder.featuresOfFile(path, r.key, { ffmpegPath: deps.ffmpegPath });
      await rm(path, { force: true });
      return clip;
    });
    const audio = await clap.embedAudio(features);
    const captions = await Promise.all(
      ok.map(async (r) => parseOrThrow(sampleJsonSchema, await readJson(store, `${staging}${r.key}.json`), `${r.key}.json`).text[0]!),
    );
    const text = await clap.embedText(captions);
    for (const [i, r] of ok.entries()) {
      await store.put(`${staging}${r.key}.emb`, encodeStagedEmbedding(audio[i]!, text[i]!));
    }
  } finally {
    clap.done();
    await rm(workDir, { recursive: true, force: true });
  }
  return results;
}
