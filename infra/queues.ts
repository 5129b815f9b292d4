import { createHash } from 'node:crypto';
import { FlowProducer, Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/** The stages of the job graph, one BullMQ queue each; a worker process serves any subset. */
export const STAGES = ['crawl', 'transcode', 'caption', 'embed', 'shard'] as const;
export type Stage = (typeof STAGES)[number];

export interface QueueContext {
  connection: Redis;
  prefix: string;
}

export function openQueue(ctx: QueueContext, stage: Stage): Queue {
  return new Queue(stage, { connection: ctx.connection as unknown as ConnectionOptions, prefix: ctx.prefix });
}

export function openFlowProducer(ctx: QueueContext): FlowProducer {
  return new FlowProducer({ connection: ctx.connection as unknown as ConnectionOptions, prefix: ctx.prefix });
}

/** A short stable id for a dataset URI; job ids are derived from it so re-adding a job is a no-op. */
export function datasetId(uri: string): string {
  return createHash('sha256').update(uri).digest('hex').slice(0, 12);
}

/** BullMQ job ids may not contain ':'; ours join plain segments with '.'. */
export const jobIds = {
  crawl: (dataset: string, source: string) => `crawl.${datasetId(dataset)}.${source}`,
  shard: (dataset: string, split: string, shard: string) => `shard.${datasetId(dataset)}.${split}.${shard}`,
  /** `run` tells the flows of one shard apart: a chunk an earlier flow left failed must not stand in for the new one. */
  chunk: (stage: Stage, dataset: string, split: string, shard: string, chunk: number, run: string) =>
    `${stage}.${datasetId(dataset)}.${split}.${shard}.${chunk}.${run}`,
};

/** Retries for transient trouble (storage, a dying worker): exponential backoff from 2 s. */
export const RETRY = { attempts: 5, backoff: { type: 'exponential', delay: 2000 } } as const;
