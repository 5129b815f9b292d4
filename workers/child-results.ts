import { UnrecoverableError, type Job } from 'bullmq';
import { clipResultSchema, type ClipResult } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';

/**
 * The clip results a stage job's children returned, parsed (none for a child that failed for good:
 * the shard stage accounts for those from the ignored failures).
 */
export async function childClipResults(job: Pick<Job, 'getChildrenValues'>): Promise<ClipResult[]> {
  return Object.values(await job.getChildrenValues<unknown[]>())
    .flat()
    .map((value) => parseOrThrow(clipResultSchema, value, 'child stage result'));
}

/**
 * For a stage chained after transcode (caption, embed: one child, the chunk's previous stage): its
 * results, or — when that child failed for good (its failure ignored so the shard is not held back)
 * — an UnrecoverableError carrying the child's reason. The reason thus reaches the shard job as this
 * job's own, so a chunk that kept killing its workers ends `worker_lost` there, as it does when
 * transcode is the last stage, instead of the transient `job_failed` of a chunk that left no reason.
 */
export async function chainedClipResults(job: Pick<Job, 'getChildrenValues' | 'getIgnoredChildrenFailures'>): Promise<ClipResult[]> {
  const failures = [...new Set(Object.values(await job.getIgnoredChildrenFailures()))];
  if (failures.length > 0) throw new UnrecoverableError(`the chunk's previous stage failed for good: ${failures.join('; ').slice(0, 1000)}`);
  return childClipResults(job);
}
