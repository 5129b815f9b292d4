import { Job } from 'bullmq';
import { openQueue, jobIds, type QueueContext } from '../infra/queues.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import type { CrawlJob } from '../schemas/jobs.ts';
import type { CrawlProgress, CrawlSummary } from './crawl.ts';
import { MANIFEST_KEY } from '../infra/store/dataset-layout.ts';

async function hasShards(store: ObjectStore): Promise<boolean> {
  for (const split of ['train/', 'test/']) for await (const _ of store.list(split)) return true;
  return store.exists(MANIFEST_KEY);
}

/**
 * Adds the crawl job for (dataset, source). Refuses to write into an existing dataset unless
 * `resume` is set; with it, attaches to a crawl already in flight or replaces a finished one.
 */
export async function submitCrawl(ctx: QueueContext, store: ObjectStore, crawl: CrawlJob, options: { resume: boolean }): Promise<string> {
  const queue = openQueue(ctx, 'crawl');
  try {
    const id = jobIds.crawl(crawl.dataset.uri, crawl.source.name);
    const state = await queue.getJobState(id);
    if (!options.resume && (await hasShards(store))) {
      throw new Error(`${store.uri} already holds a dataset; pass --resume to continue it (finished shards are skipped)`);
    }
    if (state === 'completed' || state === 'failed') await (await Job.fromId(queue, id))?.remove();
    else if (state !== 'unknown') {
      if (!options.resume) throw new Error(`a crawl of ${crawl.source.name} into ${crawl.dataset.uri} is already ${state}; pass --resume to attach to it`);
      return id;
    }
    await queue.add('crawl', crawl, { jobId: id, attempts: 3, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
    return id;
  } finally {
    await queue.close();
  }
}

/** Polls the crawl job until it finishes, reporting progress; rejects with its failure reason. */
export async function waitForCrawl(ctx: QueueContext, id: string, onProgress: (p: Partial<CrawlProgress>) => void): Promise<CrawlSummary> {
  const queue = openQueue(ctx, 'crawl');
  const gone = () => new Error(`crawl job ${id} is gone from Redis (were its keys deleted?); rerun the crawl with --resume`);
  try {
    for (;;) {
      const job = await Job.fromId(queue, id);
      if (!job) throw gone();
      if (typeof job.progress === 'object') onProgress(job.progress as Partial<CrawlProgress>);
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        // Fetched again: the copy above may predate the ending, and so lack its return value or reason.
        const ended = await Job.fromId(queue, id);
        if (!ended) throw gone();
        if (state === 'completed') return ended.returnvalue as CrawlSummary;
        // A job with attempts left is delayed or waiting, never failed; an unrecoverable one fails at its first attempt.
        throw new Error(`crawl failed: ${ended.failedReason}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await queue.close();
  }
}
