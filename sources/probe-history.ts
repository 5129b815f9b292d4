/**
 * The last probe of each source, kept in Redis so the dashboard can show it: `clapset probe` (run by
 * an operator, or from cron every few hours) records its report, the dashboard reads them all.
 * One hash per deployment (field: source name), so the set stays as small as the list of sources.
 */
import type { Redis } from 'ioredis';
import type { ProbeReport } from './probe.ts';

export interface RecordedProbe extends ProbeReport {
  checked_at: string;
}

const key = (prefix: string) => `${prefix}:probes`;

export async function recordProbe(redis: Redis, prefix: string, report: ProbeReport, now = new Date()): Promise<void> {
  const recorded: RecordedProbe = { ...report, checked_at: now.toISOString() };
  await redis.hset(key(prefix), report.source, JSON.stringify(recorded));
}

/** Every recorded probe, by source name. */
export async function readProbes(redis: Redis, prefix: string): Promise<RecordedProbe[]> {
  const entries = Object.entries(await redis.hgetall(key(prefix)));
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, json]) => JSON.parse(json) as RecordedProbe);
}
