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

/**
 * Entries kept (approximately: Redis trims whole stream nodes, so up to ~100 more) in each queue's
 * BullMQ event stream (`<prefix>:<stage>:events`), instead of BullMQ's 10,000. Nothing in clapset
 * reads the streams (no QueueEvents, no waitUntilFinished); the last thousand events stay for
 * debugging with XREVRANGE. At 10,000 the shard stream alone (~6 KB an event) reached ~45 MB.
 */
export const EVENT_STREAM_MAX_LEN = 1000;

/**
 * A stage's queue. Opening one records the event-stream cap in the queue's meta hash, which is
 * where BullMQ's scripts read it (workers and flow producers take no such option, and a queue's
 * scripts write 10,000 there if nothing else has): see `capEventStreams`.
 */
export function openQueue(ctx: QueueContext, stage: Stage): Queue {
  return new Queue(stage, {
    connection: ctx.connection as unknown as ConnectionOptions,
    prefix: ctx.prefix,
    streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
  });
}

/**
 * Records the event-stream cap of every stage's queue in Redis (each queue's meta hash): what a
 * process that runs workers or adds flows does first, since BullMQ's Worker and FlowProducer
 * cannot, and again when a crawl starts (Redis may have lost its keys since).
 */
export async function capEventStreams(ctx: QueueContext, stages: readonly Stage[] = STAGES): Promise<void> {
  await Promise.all(
    stages.map(async (stage) => {
      const queue = openQueue(ctx, stage);
      try {
        // Resolves once the queue has written its meta values (the cap among them).
        await queue.getVersion();
      } finally {
        await queue.close();
      }
    }),
  );
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
