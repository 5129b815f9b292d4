import type { Job } from 'bullmq';
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
