import type { ChaosResult } from './run-chaos.ts';

/**
 * What a chaos run must show (issues 7 and 12), as readable problems; empty when it survived. Shared by
 * `npm run chaos` and the CI test, so both hold the same line.
 */
export function chaosProblems({ report, ledger, verify, checks }: ChaosResult): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => void (ok || problems.push(problem));
  expect(report.lost === 0, `${report.lost} clips lost: ${ledger.lostRecords.join(', ')}${ledger.excluded.counted < ledger.excluded.expected ? ` (opt-out exclusions counted ${ledger.excluded.counted} of ${ledger.excluded.expected})` : ''}`);
  expect(ledger.excluded.counted <= ledger.excluded.expected, `opt-out exclusions counted twice: ${ledger.excluded.counted} for ${ledger.excluded.expected} opted-out records`);
  expect(report.duplicates === 0, `${report.duplicates} clips present twice`);
  expect(report.leaked_secrets === 0, `secrets leaked: ${JSON.stringify(checks.leaksBy)}`);
  expect(report.rate_limit_violations === 0, `rate limits passed: ${JSON.stringify(checks.providers)}`);
  expect(report.refused_redirects >= 1, 'no redirect to the disallowed host was refused');
  expect(checks.adminHits === 0, `the disallowed admin port was reached ${checks.adminHits} times`);
  expect(verify.ok, `verify: ${verify.problems.join(' | ')}`);
  expect(checks.escapedKeys.length === 0, `keys outside the dataset prefix: ${checks.escapedKeys.join(', ')}`);
  expect(Object.keys(checks.stagingLeft).length === 0, `staged members left behind: ${JSON.stringify(checks.stagingLeft)}`);
  expect(ledger.unknown.length === 0, `records no provider offered: ${ledger.unknown.join(', ')}`);
  expect(ledger.inconsistent.length === 0, `tars and stats disagree on: ${ledger.inconsistent.join(', ')}`);
  expect(ledger.excludedButProcessed.length === 0, `excluded at crawl time but processed: ${ledger.excludedButProcessed.join(', ')}`);
  expect(checks.tooLarge.outcomes >= 1 && checks.tooLarge.counted >= checks.tooLarge.outcomes, `oversize downloads: ${JSON.stringify(checks.tooLarge)}`);
  expect(checks.dashboard.refusedBindWithoutToken, 'the dashboard started beyond loopback without a token');
  expect(checks.dashboard.withoutToken.every((s) => s === 401), `dashboard without its token answered ${checks.dashboard.withoutToken.join(', ')}`);
  expect(checks.dashboard.withToken.every((s) => s === 200), `dashboard with its token answered ${checks.dashboard.withToken.join(', ')}`);
  const kills = checks.events.filter((e) => e.name.startsWith('sigkill') && e.note?.startsWith('killed')).length;
  expect(kills >= 3, `only ${kills} workers were killed`);
  expect(checks.events.some((e) => e.name === 'delete-redis-keys' && e.progress < 1), 'the Redis keys were not deleted mid-run');
  // Issue 12: a storage outage, a rolling SIGTERM restart of every worker, a Redis restart with AOF.
  const midRun = (name: string) => checks.events.some((e) => e.name === name && e.progress < 1);
  expect(midRun('storage-outage') && report.storage_outage_s >= checks.expect.storageOutageS, `storage outage of ${report.storage_outage_s} s mid-run, ${checks.expect.storageOutageS} s wanted`);
  const { refused, hung } = checks.s3Proxy.outage;
  expect(refused > 0 && hung > 0, `the storage outage refused ${refused} and left ${hung} S3 requests hanging (both must be met)`);
  expect(midRun('rolling-sigterm-restart') && checks.rolling?.workers === checks.expect.workers, `rolling restart mid-run of ${checks.rolling?.workers ?? 0} workers, ${checks.expect.workers} running`);
  expect(report.drained_workers === checks.expect.workers, `${report.drained_workers} of ${checks.expect.workers} workers drained on SIGTERM: ${JSON.stringify(checks.rolling?.drains ?? [])}`);
  expect(report.drain_max_s <= checks.expect.graceS, `a drain took ${report.drain_max_s} s, past the ${checks.expect.graceS}-s grace`);
  expect(midRun('redis-restart') && report.redis_restarts >= 1, `Redis restarted ${report.redis_restarts} times mid-run`);
  expect(checks.redisRestart?.sentinelSurvived === true, `a key written before the Redis restart was gone after it: ${JSON.stringify(checks.redisRestart)}`);
  return problems;
}
