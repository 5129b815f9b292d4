/**
 * The chaos run, CI-sized (issue 7): ~150 clips from the Freesound and BBC fixtures with the same
 * faults as `npm run chaos` — corrupt audio, hostile metadata, 429 storms, 5xx bursts, slow and
 * truncated bodies, a redirect to a disallowed port, oversize downloads, S3 5xx and resets
 * mid-upload, three workers SIGKILLed and replaced, the project's Redis keys deleted mid-run and the
 * crawls resumed. Nothing may be lost or doubled, no secret may leak, no limit may be passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balanceLedger, countSecrets } from '../chaos/accounting.ts';
import { truthKey, type TruthEntry } from '../chaos/catalogue.ts';
import { startFaultProxy } from '../chaos/fault-proxy.ts';
import { CI_RUN, runChaos } from '../chaos/run-chaos.ts';
import { chaosProblems } from '../chaos/verdict.ts';
import { readBody, sendText, startHttpServer } from '../../demo/providers/common.ts';
import { TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

// No total-time limit of its own: the run fails when no shard finished for CI_RUN.idleMs, so a loaded
// machine (two other CPU-bound processes on the same cores) is slow, not failed.
test('a crawl through corrupt audio, hostile metadata, provider and S3 faults, killed workers and a Redis wipe loses nothing', { timeout: CI_RUN.deadlineMs + 60_000 }, async () => {
  const result = await runChaos({ ...CI_RUN, redisUrl: TEST_REDIS_URL });
  const { report, checks, ledger } = result;
  const summary = JSON.stringify({ report, seconds: checks.seconds, events: checks.events, resubmits: checks.resubmits, unexpected: ledger.unexpected });
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
