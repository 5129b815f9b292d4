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
    for (const clip of data.clips) {
      if (clip.record.invalid !== undefined) {
        fail(clip, new ClipError('invalid_record', clip.record.invalid));
        continue;
      }
      try {
        ready.push({ clip, audio: await source.materialise(clip.record, workDir, { maxBytes: deps.maxDownloadBytes }) });
      } catch (error) {
        if (!(error instanceof ClipError)) throw error;
        // The provider opted this file out of ML use: a deliberate exclusion we honour, not a failure.
        if (error instanceof OptedOutError) results.set(clip.key, { status: 'filtered', key: clip.key, id: clip.record.id, reason: 'opted_out', message: error.message });
        else fail(clip, error);
      }
    }

    const outcomes = await transcodeBatch(
      ready.map(({ clip, audio }) => ({ id: clip.key, path: audio.path })),
      workDir,
      { ffmpegPath: deps.ffmpegPath },
    );
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
      await store.putFile(`${staging}${clip.key}.flac`, outcome.outputPath, { contentType: 'audio/flac' });
      await store.put(`${staging}${clip.key}.json`, json, { contentType: 'application/json' });
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
  } finally {
    await Promise.allSettled(ready.map(({ audio }) => audio.release()));
    await rm(workDir, { recursive: true, force: true });
  }
  return data.clips.map((clip) => results.get(clip.key)!);
}
