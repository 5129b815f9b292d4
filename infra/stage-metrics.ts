import type { Redis } from 'ioredis';
import { STAGES, type Stage } from './queues.ts';

/** Cumulative per-stage counters in Redis, shared by every worker, read by `/metrics`. */
export type StageCounters = Record<string, number>;

const key = (prefix: string, stage: Stage) => `${prefix}:metrics:${stage}`;

export async function recordStageJob(redis: Redis, prefix: string, stage: Stage, seconds: number, counters: StageCounters = {}): Promise<void> {
  const multi = redis.multi().hincrby(key(prefix, stage), 'jobs', 1).hincrbyfloat(key(prefix, stage), 'seconds', seconds);
  for (const [name, value] of Object.entries(counters)) if (value !== 0) multi.hincrbyfloat(key(prefix, stage), name, value);
  await multi.exec();
}

export async function readStageMetrics(redis: Redis, prefix: string): Promise<Record<Stage, StageCounters>> {
  const entries = await Promise.all(
    STAGES.map(async (stage) => {
      const raw = await redis.hgetall(key(prefix, stage));
      return [stage, Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]))] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<Stage, StageCounters>;
}

/** Counts one event of a stage (a stalled job, a lost lock, a job released on shutdown) beside its job counters. */
export async function countStageEvent(redis: Redis, prefix: string, stage: Stage, counter: string): Promise<void> {
  await redis.hincrby(key(prefix, stage), counter, 1);
}
