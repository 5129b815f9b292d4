import { randomBytes } from 'node:crypto';
import { Job, type FlowJob, type FlowProducer, type Queue } from 'bullmq';
import type { DatasetSpec } from '../schemas/dataset.ts';
import type { ChunkStageJob, PlannedClip, ShardJob, TranscodeJob } from '../schemas/jobs.ts';
import type { SourceSpec } from '../schemas/source-spec.ts';
import { jobIds, RETRY, type Stage } from '../infra/queues.ts';
import { chunkClips, type PlannedShard } from './shard-plan.ts';

export interface ShardQueues {
  flows: FlowProducer;
  shardQueue: Queue;
}

/**
 * Adds one shard as a flow: a `shard` parent whose `transcode` children each carry a chunk of
 * clips. Ids are derived from the dataset and shard, so adding a shard that is already in flight
 * is a no-op; one left completed or failed by an earlier run is replaced.
 */
export async function enqueueShard(queues: ShardQueues, dataset: DatasetSpec, source: SourceSpec, shard: PlannedShard): Promise<string> {
  const id = jobIds.shard(dataset.uri, shard.ref.split, shard.ref.name);
  const state = await queues.shardQueue.getJobState(id);
  if (state === 'completed' || state === 'failed') {
    await (await Job.fromId(queues.shardQueue, id))?.remove({ removeChildren: true });
  } else if (state !== 'unknown') {
    return id;
  }
  const shardData: ShardJob = { dataset, shard: shard.ref, clips: shard.clips.map((c) => ({ key: c.key, id: c.record.id })) };
  // Removing the parent does not reach a failed transcode below a finished caption/embed job (kept
  // for inspection); with the same id it would be taken as the new chunk and block it for ever.
  const run = randomBytes(4).toString('hex');
  await queues.flows.add({
    name: 'shard',
    queueName: 'shard',
    data: shardData,
    opts: { jobId: id, ...RETRY, removeOnComplete: true, removeOnFail: { count: 1000 } },
    children: chunkClips(shard.clips, dataset.chunkSize, dataset.chunkBytes).map((clips, index) => chunkFlow(dataset, source, shard, clips, index, run)),
  });
  return id;
}

/**
 * One chunk's chain of stages, leaf first: transcode, then (when configured) caption and embed. Each stage
 * is a child of the next, so BullMQ runs them in order and each reads its child's results.
 */
function chunkFlow(dataset: DatasetSpec, source: SourceSpec, shard: PlannedShard, clips: PlannedClip[], index: number, run: string): FlowJob {
  const opts = (stage: Stage) => ({
    jobId: jobIds.chunk(stage, dataset.uri, shard.ref.split, shard.ref.name, index, run),
    ...RETRY,
    // A chunk that fails for good must not hold its shard back: its clips are counted as failed.
    ignoreDependencyOnFailure: true,
    removeOnComplete: true,
    removeOnFail: { count: 10_000 },
  });
  let node: FlowJob = { name: 'transcode', queueName: 'transcode', data: { dataset, source, shard: shard.ref, clips } satisfies TranscodeJob, opts: opts('transcode') };
  if (dataset.caption) {
    node = { name: 'caption', queueName: 'caption', data: { dataset, shard: shard.ref } satisfies ChunkStageJob, opts: opts('caption'), children: [node] };
  }
  if (dataset.embed) {
    node = { name: 'embed', queueName: 'embed', data: { dataset, shard: shard.ref } satisfies ChunkStageJob, opts: opts('embed'), children: [node] };
  }
  return node;
}
