/**
 * BullMQ's per-queue event streams are capped at EVENT_STREAM_MAX_LEN (infra/queues.ts) rather than
 * BullMQ's 10,000: the cap lives in each queue's meta hash, which `openQueue` and `capEventStreams`
 * write, and jobs added by a flow producer (which cannot set it) are trimmed to it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capEventStreams, EVENT_STREAM_MAX_LEN, openFlowProducer, openQueue, STAGES } from '../../infra/queues.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';

test('every stage’s event stream is capped at EVENT_STREAM_MAX_LEN, also for jobs a flow producer adds', async () => {
  const ctx = testQueueContext();
  try {
    const meta = (stage: string) => ctx.connection.hget(`${ctx.prefix}:${stage}:meta`, 'opts.maxLenEvents');
    await capEventStreams(ctx);
    for (const stage of STAGES) assert.equal(await meta(stage), String(EVENT_STREAM_MAX_LEN), stage);

    // A flow producer's jobs (two events each: added, waiting), well past the cap.
    const flows = openFlowProducer(ctx);
    const jobs = Array.from({ length: EVENT_STREAM_MAX_LEN * 2 }, (_, i) => ({ name: 'transcode', queueName: 'transcode', data: { i } }));
    await flows.addBulk(jobs);
    await flows.close();
    const length = await ctx.connection.xlen(`${ctx.prefix}:transcode:events`);
    // MAXLEN ~ trims whole stream nodes (100 entries by default): a little over the cap, never BullMQ's 10,000.
    assert.ok(length >= EVENT_STREAM_MAX_LEN && length <= EVENT_STREAM_MAX_LEN + 200, `${length} events kept of ${jobs.length * 2}`);

    // A queue opened later keeps the cap (it writes the same value).
    const queue = openQueue(ctx, 'shard');
    await queue.getVersion();
    await queue.close();
    assert.equal(await meta('shard'), String(EVENT_STREAM_MAX_LEN));
  } finally {
    await ctx.close();
  }
});
