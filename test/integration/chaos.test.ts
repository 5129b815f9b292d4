/**
 * The chaos run, CI-sized (issue 7): ~150 clips from the Freesound and BBC fixtures with the same
 * faults as `npm run chaos` — corrupt audio, hostile metadata, 429 storms, 5xx bursts, slow and
 * truncated bodies, a redirect to a disallowed port, oversize downloads, S3 5xx and resets
 * mid-upload, three workers SIGKILLed and replaced, a storage outage (every S3 request refused, then
 * left hanging), a rolling SIGTERM restart of every worker, the project's Redis keys deleted mid-run
 * and the crawls resumed, the run's Redis (AOF) restarted. Nothing may be lost or doubled, no secret
 * may leak, no limit may be passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balanceLedger, countSecrets } from '../chaos/accounting.ts';
import { truthKey, type TruthEntry } from '../chaos/catalogue.ts';
import { startFaultProxy } from '../chaos/fault-proxy.ts';
import { CI_RUN, runChaos, WORKER_GRACE_S } from '../chaos/run-chaos.ts';
import { chaosProblems } from '../chaos/verdict.ts';
import { readBody, sendText, startHttpServer } from '../../demo/providers/common.ts';

// No total-time limit of its own: the run fails when no shard finished for CI_RUN.idleMs, so a loaded
// machine (two other CPU-bound processes on the same cores) is slow, not failed. The storage outage
// the run causes itself is not counted as lack of progress. The run starts its own Redis (AOF).
test('a crawl through corrupt audio, hostile metadata, provider and S3 faults, killed workers, a storage outage, a rolling restart, a Redis wipe and a Redis restart loses nothing', { timeout: CI_RUN.deadlineMs + 60_000 }, async (t) => {
  const result = await runChaos(CI_RUN);
  const { report, checks, ledger } = result;
  const summary = JSON.stringify({ report, seconds: checks.seconds, events: checks.events, resubmits: checks.resubmits, unexpected: ledger.unexpected, harnessLoopDelayMs: checks.harnessLoopDelayMs });
  assert.deepEqual(chaosProblems(result), [], summary);
  assert.equal(report.lost, 0);
  assert.equal(report.duplicates, 0);
  assert.equal(report.leaked_secrets, 0);
  assert.equal(report.rate_limit_violations, 0);
  assert.ok(report.refused_redirects >= 1, summary);
  assert.ok(report.clips >= 150 && report.in_shards > 0 && report.failed > 0 && report.filtered > 0, summary);
  assert.ok(result.verify.ok, result.verify.problems.join('\n'));
  assert.ok(checks.s3Proxy.faults['error-before'] + checks.s3Proxy.faults['error-after'] > 0 && checks.s3Proxy.faults.reset > 0, `S3 faults injected: ${JSON.stringify(checks.s3Proxy)}`);
  assert.ok(Object.values(checks.resubmits).some((n) => n > 0), 'a crawl was resumed after the Redis wipe');
  const outageS = (CI_RUN.storageOutage.hangMs + CI_RUN.storageOutage.refuseMs) / 1000;
  assert.ok(report.storage_outage_s > 0 && report.storage_outage_s >= outageS, summary);
  assert.ok(checks.s3Proxy.outage.refused > 0 && checks.s3Proxy.outage.hung > 0, `S3 requests met the outage: ${JSON.stringify(checks.s3Proxy.outage)}`);
  assert.equal(report.drained_workers, CI_RUN.workers, summary);
  assert.equal(checks.rolling?.drains.length, CI_RUN.workers, 'every worker was restarted once');
  assert.ok(report.drain_max_s > 0 && report.drain_max_s <= WORKER_GRACE_S, summary);
  assert.ok(report.redis_restarts >= 1 && checks.redisRestart?.sentinelSurvived, `Redis restarted with its data: ${JSON.stringify(checks.redisRestart)}`);
  t.diagnostic(`${checks.seconds} s: ${JSON.stringify(report)}`);
});

test('the ledger counts a lost clip, a clip twice, a sample without its outcome, and an uncounted exclusion', () => {
  const truth = new Map<string, TruthEntry>(
    (['1', '2', '3', '4', '5'] as const).map((id) => [truthKey('freesound', id), { source: 'freesound', id, expect: id === '5' ? { outcome: 'excluded', reason: 'gen_ai' } : { outcome: 'ok' }, labels: [] }]),
  );
  const sample = (id: string) => ({ source: 'freesound', id, key: `k${id}` });
  const ledger = balanceLedger({
    truth,
    samples: [sample('1'), sample('2'), sample('2'), sample('3')],
    outcomes: [{ ...sample('1'), status: 'ok' }, { ...sample('2'), status: 'ok' }, { ...sample('3'), status: 'failed', reason: 'decode_error' }],
    optOutCounted: 0,
  });
  assert.deepEqual(ledger.lostRecords, ['freesound/4']);
  assert.equal(ledger.lost, 2, 'clip 4 is nowhere, and the exclusion of clip 5 was never counted');
  assert.equal(ledger.duplicates, 1);
  assert.deepEqual(ledger.inconsistent, ['freesound/3']);
  assert.equal(countSecrets(Buffer.from('a-secret and a-secret, not a-secre'), ['a-secret']), 2);
});

test('the fault proxy answers 5xx before or after forwarding, and resets uploads part-way', async () => {
  const bodies: number[] = [];
  const upstream = await startHttpServer(async (req, res) => {
    bodies.push(Buffer.byteLength(await readBody(req)));
    sendText(res, 200, 'upstream');
  });
  const proxy = await startFaultProxy({ target: upstream.origin, seed: 'proxy-test', faultRate: 1 });
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 3; i++) {
      const answer = await fetch(`${proxy.origin}/object/${i}`, { method: 'PUT', body: 'x'.repeat(10_000) }).then(
        (r) => String(r.status),
        () => 'reset',
      );
      seen.add(answer === 'reset' ? 'reset' : answer.startsWith('5') ? '5xx' : answer);
    }
    assert.deepEqual([...seen].sort(), ['5xx', 'reset']);
    const { faults } = proxy.stats;
    assert.ok(faults['error-before'] > 0 && faults['error-after'] > 0 && faults.reset > 0, JSON.stringify(faults));
    assert.ok(bodies.some((n) => n === 10_000), 'error-after requests reached upstream whole');
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

test('the fault proxy in an outage refuses every request, then leaves them hanging until the outage ends, then forwards again', async () => {
  let reached = 0;
  const upstream = await startHttpServer(async (_req, res) => {
    reached++;
    sendText(res, 200, 'upstream');
  });
  const proxy = await startFaultProxy({ target: upstream.origin, seed: 'outage-test', faultRate: 0 });
  const get = (path: string) => fetch(`${proxy.origin}${path}`).then((r) => r.text(), (error: Error) => `failed: ${error.name}`);
  try {
    assert.equal(await get('/before'), 'upstream');
    proxy.setOutage('refuse');
    assert.match(await get('/refused'), /^failed/);
    proxy.setOutage('hang');
    let settled = false;
    const hanging = get('/hanging').finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(settled, false, 'a request in a hang outage gets no answer');
    proxy.setOutage(null);
    assert.match(await hanging, /^failed/, 'the end of the outage drops the hanging request');
    assert.equal(await get('/after'), 'upstream');
    assert.equal(reached, 2, 'nothing reached upstream during the outage');
    assert.ok(proxy.stats.outage.refused >= 1 && proxy.stats.outage.hung === 1, JSON.stringify(proxy.stats.outage));
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
