import type { Job } from 'bullmq';
import { chunkStageJobSchema, type ClipResult } from '../../schemas/jobs.ts';
import { chainedClipResults } from '../child-results.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { sampleJsonSchema } from '../../schemas/sample.ts';
import type { WorkerDeps } from '../worker-deps.ts';
import { applyCaptions, captionClips } from './caption-clips.ts';
import { shardKeys, readJson } from '../../infra/store/dataset-layout.ts';

type StageJobHandle = Pick<Job, 'data' | 'getChildrenValues' | 'getIgnoredChildrenFailures'>;


/**
 * Keyword-to-caption for one chunk: reads the staged `<key>.json` of each transcoded clip, captions
 * the chunk in one captioner call (T5, or LAION's template when no model is set), and rewrites the
 * JSON with `text_augment_t5`, `text_augment_all` and the caption's provenance.
 */
export async function processCaptionJob(job: StageJobHandle, deps: WorkerDeps): Promise<ClipResult[]> {
  const data = parseOrThrow(chunkStageJobSchema, job.data, 'caption job');
  if (!data.dataset.caption) throw new Error('caption job for a dataset without a caption stage');
  const store = deps.store(data.dataset.uri);
  const staging = shardKeys(data.shard).staging;
  const results = await chainedClipResults(job);
  const ok = results.filter((r) => r.status === 'ok');
  const captioner = await deps.captioner(data.dataset.caption);
  // Declared while its JSONs are read, so other jobs' partial batches wait a moment for this one's.
  const leave = captioner.enter?.();
  let outcomes;
  let samples;
  try {
    samples = await Promise.all(
      ok.map(async (r) => parseOrThrow(sampleJsonSchema, await readJson(store, `${staging}${r.key}.json`), `${staging}${r.key}.json`)),
    );
    outcomes = await captionClips(
      captioner,
      samples.map((s) => ({ text: s.text, tags: s.tag, duration: s.duration })),
    );
  } finally {
    leave?.();
  }
  const jsonBytes = new Map<string, number>();
  for (const [i, sample] of samples.entries()) {
    const updated = parseOrThrow(sampleJsonSchema, applyCaptions(sample, outcomes[i]!, captioner.provenance), `captioned ${sample.key}`);
    const body = Buffer.from(JSON.stringify(updated));
    await store.put(`${staging}${sample.key}.json`, body, { contentType: 'application/json' });
    jsonBytes.set(sample.key, body.length);
  }
  return results.map((r) => (r.status === 'ok' ? { ...r, jsonBytes: jsonBytes.get(r.key)! } : r));
}
