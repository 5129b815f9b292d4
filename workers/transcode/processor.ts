import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { ClipError } from '../../schemas/failure.ts';
import { OptedOutError } from '../../infra/http/errors.ts';
import { transcodeJobSchema, type ClipResult, type PlannedClip } from '../../schemas/jobs.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { createSource } from '../../sources/registry.ts';
import type { LocalAudio, SourceContext } from '../../sources/source.ts';
import type { WorkerDeps } from '../worker-deps.ts';
import { filterReason } from './filters.ts';
import { buildSampleJson } from './sample-json.ts';
import { transcodeBatch } from './transcode-batch.ts';
import { truncationProblem } from './truncation.ts';
import { shardKeys } from '../../infra/store/dataset-layout.ts';
import { mapPool } from '../../infra/pool.ts';

/** Clips of a chunk fetched at once (bounded: a chunk must not open a burst of connections to one provider). */
export const MATERIALISE_CONCURRENCY = 4;
/** Clips of a chunk whose staged files are written at once. */
const STAGING_CONCURRENCY = 8;

/**
 * One chunk of a shard's clips: make each clip's audio readable here, transcode the chunk with one
 * ffmpeg process, and stage `<key>.flac` + `<key>.json` in the object store. Per-clip problems
 * become failed/filtered results; only transient trouble (storage, I/O) throws, so BullMQ retries.
 */
export async function processTranscodeJob(job: Pick<Job, 'data'>, deps: WorkerDeps, sources: SourceContext): Promise<ClipResult[]> {
  const data = parseOrThrow(transcodeJobSchema, job.data, 'transcode job');
  const store = deps.store(data.dataset.uri);
  const source = createSource(data.source, sources);
  const staging = shardKeys(data.shard).staging;
  await mkdir(deps.workRoot, { recursive: true });
  const workDir = await mkdtemp(join(deps.workRoot, 'transcode-'));
  const results = new Map<string, ClipResult>();
  const ready: { clip: PlannedClip; audio: LocalAudio }[] = [];
  const fail = (clip: PlannedClip, error: ClipError) =>
    results.set(clip.key, { status: 'failed', key: clip.key, id: clip.record.id, reason: error.reason, message: error.message });

  try {
    const valid = data.clips.filter((clip) => {
      if (clip.record.invalid !== undefined) fail(clip, new ClipError('invalid_record', clip.record.invalid));
      return clip.record.invalid === undefined;
    });
    // Downloads run a few at a time (each request still waits for the provider's shared rate
    // limiter), so a network-bound chunk is not fetched one file after another. Every call settles
    // before anything is judged, so whatever was fetched is in `ready` and released below.
    type Fetched = { clip: PlannedClip; audio: LocalAudio; error?: never } | { clip: PlannedClip; audio?: never; error: unknown };
    const fetched = await mapPool(valid, MATERIALISE_CONCURRENCY, async (clip): Promise<Fetched> => {
      try {
        return { clip, audio: await source.materialise(clip.record, workDir, { maxBytes: deps.maxDownloadBytes }) };
      } catch (error) {
        return { clip, error };
      }
    });
    let trouble: { error: unknown } | null = null;
    for (const item of fetched) {
      if (item.audio !== undefined) {
        ready.push({ clip: item.clip, audio: item.audio });
        continue;
      }
      const { clip, error } = item;
      // The provider opted this file out of ML use: a deliberate exclusion we honour, not a failure.
      if (error instanceof OptedOutError) results.set(clip.key, { status: 'filtered', key: clip.key, id: clip.record.id, reason: error.reason, message: error.message });
      else if (error instanceof ClipError) fail(clip, error);
      else trouble ??= { error };
    }
    if (trouble !== null) throw trouble.error;

    const outcomes = await transcodeBatch(
      ready.map(({ clip, audio }) => ({ id: clip.key, path: audio.path })),
      workDir,
      { ffmpegPath: deps.ffmpegPath },
    );
    const staged: { clip: PlannedClip; outputPath: string; json: Buffer }[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const { clip } = ready[i]!;
      if (!outcome.ok) {
        fail(clip, new ClipError(outcome.reason, outcome.message));
        continue;
      }
      const truncated = truncationProblem(outcome);
      if (truncated) {
        fail(clip, new ClipError('truncated', truncated));
        continue;
      }
      const filtered = filterReason(outcome, data.dataset.filters);
      if (filtered) {
        results.set(clip.key, { status: 'filtered', key: clip.key, id: clip.record.id, ...filtered });
        continue;
      }
      const json = Buffer.from(JSON.stringify(buildSampleJson(clip.key, clip.record, outcome)));
      staged.push({ clip, outputPath: outcome.outputPath, json });
      results.set(clip.key, {
        status: 'ok',
        key: clip.key,
        id: clip.record.id,
        duration: outcome.durationSec,
        flacBytes: outcome.bytes,
        jsonBytes: json.length,
        license: clip.record.license,
      });
    }
    // Staging writes overlap too: one PUT per round trip was most of a short-clip chunk's time.
    await mapPool(staged, STAGING_CONCURRENCY, async ({ clip, outputPath, json }) => {
      await store.putFile(`${staging}${clip.key}.flac`, outputPath, { contentType: 'audio/flac' });
      await store.put(`${staging}${clip.key}.json`, json, { contentType: 'application/json' });
    });
  } finally {
    await Promise.allSettled(ready.map(({ audio }) => audio.release()));
    await rm(workDir, { recursive: true, force: true });
  }
  return data.clips.map((clip) => results.get(clip.key)!);
}
