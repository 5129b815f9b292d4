import { openQueue, STAGES, type QueueContext, type Stage } from '../infra/queues.ts';
import type { CrawlProgress } from './crawl.ts';

export interface StageStatus {
  stage: Stage;
  waiting: number;
  active: number;
  delayed: number;
  waitingChildren: number;
  failed: number;
  /** Jobs completed per minute, averaged over the last five minutes (from worker metrics). */
  completedPerMinute: number;
  completedLastMinute: number;
}

export interface CrawlStatus {
  id: string;
  state: string;
  source: string;
  dataset: string;
  progress: Partial<CrawlProgress>;
  failedReason?: string;
}

export interface PipelineStatus {
  prefix: string;
  stages: StageStatus[];
  crawls: CrawlStatus[];
}

/** A snapshot of every stage's queue and of the crawls in Redis, for `clapset status` and dashboards. */
export async function readPipelineStatus(ctx: QueueContext): Promise<PipelineStatus> {
  const stages: StageStatus[] = [];
  const crawls: CrawlStatus[] = [];
  for (const stage of STAGES) {
    const queue = openQueue(ctx, stage);
    try {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'waiting-children', 'failed', 'prioritized');
      const metrics = await queue.getMetrics('completed', 0, 4);
      const recent = metrics.data.slice(0, 5);
      stages.push({
        stage,
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        waitingChildren: counts['waiting-children'] ?? 0,
        failed: counts.failed ?? 0,
        completedPerMinute: recent.length > 0 ? recent.reduce((a, b) => a + b, 0) / recent.length : 0,
        completedLastMinute: recent[0] ?? 0,
      });
      if (stage === 'crawl') {
        for (const job of await queue.getJobs(['active', 'waiting', 'delayed', 'failed', 'completed'], 0, 50)) {
          const data = job.data as { source?: { name?: string }; dataset?: { uri?: string } };
          crawls.push({
            id: job.id ?? '',
            state: await job.getState(),
            source: data.source?.name ?? '?',
            dataset: data.dataset?.uri ?? '?',
            progress: typeof job.progress === 'object' ? (job.progress as Partial<CrawlProgress>) : {},
            ...(job.failedReason ? { failedReason: job.failedReason } : {}),
          });
        }
      }
    } finally {
      await queue.close();
    }
  }
  return { prefix: ctx.prefix, stages, crawls };
}
