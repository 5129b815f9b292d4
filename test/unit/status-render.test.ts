import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderStatus } from '../../cli/status-command.ts';
import type { PipelineStatus } from '../../crawl/queue-status.ts';

const status = (progress: PipelineStatus['crawls'][number]['progress']): PipelineStatus => ({
  prefix: 'clapset',
  stages: [{ stage: 'transcode', waiting: 3, active: 2, delayed: 0, waitingChildren: 0, failed: 1, completedPerMinute: 4.5, completedLastMinute: 6 }],
  crawls: [{ id: 'c1', state: 'active', source: 'freesound', dataset: 's3://corpus/fs', progress }],
});

test('a crawl line shows shards, records and what the crawl left out, by reason', () => {
  const text = renderStatus(status({ records: 40, shardsPlanned: 4, shardsDone: 1, shardsSkipped: 1, excluded: { license: 3, id: 0, opt_out: 2 } }));
  assert.match(text, /transcode +3 +2 +0 +0 +1 +6, 4\.5/);
  assert.match(text, /freesound → s3:\/\/corpus\/fs \[active\] .*2\/4.* shards, 40 records, 5 excluded \(license 3, opt_out 2\)$/m);
});

test('nothing excluded, or a progress from an older clapset without every reason, reads cleanly', () => {
  assert.match(renderStatus(status({ records: 7, excluded: { license: 0, id: 0, opt_out: 0 } })), /, 7 records$/m);
  assert.match(renderStatus(status({ records: 7 })), /, 7 records$/m);
  const older = { license: 1, id: 2 } as unknown as { license: number; id: number; opt_out: number };
  assert.match(renderStatus(status({ records: 7, excluded: older })), /, 7 records, 3 excluded \(license 1, id 2\)$/m);
});
