/**
 * The chaos run's ledger (pure): every record the providers offered against what the dataset shows
 * for it — a sample in a shard, a counted failure or filter in a shard's stats, or left out at crawl
 * time (and counted there). Whatever is none of these is lost; whatever shows up twice is a
 * duplicate.
 */
import { type TruthEntry, truthKey } from './catalogue.ts';

export interface SampleSeen {
  source: string;
  id: string;
  key: string;
}

export interface OutcomeSeen extends SampleSeen {
  status: 'ok' | 'failed' | 'filtered';
  reason?: string;
}

export interface LedgerInput {
  truth: ReadonlyMap<string, TruthEntry>;
  /** Every sample of every tar (read back from the object store). */
  samples: readonly SampleSeen[];
  /** Every clip outcome of every shard's stats. */
  outcomes: readonly OutcomeSeen[];
  /** `opt_out` exclusions in the final stats.json (counted per record and checkpointed with the crawl, so exact across the Redis wipe). */
  optOutCounted: number;
}

/** The one JSON line a chaos run ends with (issue 7). */
export interface ChaosReport {
  clips: number;
  in_shards: number;
  failed: number;
  filtered: number;
  lost: number;
  duplicates: number;
  leaked_secrets: number;
  refused_redirects: number;
  rate_limit_violations: number;
  /** How long every S3 request was refused or left hanging (issue 12). */
  storage_outage_s: number;
  /** Workers that, SIGTERMed one at a time in the rolling restart, exited 0 within their grace. */
  drained_workers: number;
  /** The slowest of those drains, SIGTERM to exit. */
  drain_max_s: number;
  /** Restarts of the run's Redis (AOF) mid-run. */
  redis_restarts: number;
}

export interface Ledger extends Pick<ChaosReport, 'clips' | 'in_shards' | 'failed' | 'filtered' | 'lost' | 'duplicates'> {
  excluded: { expected: number; counted: number };
  /** Samples or outcomes of records no provider offered (e.g. an id mangled on the way). */
  unknown: string[];
  /** Records left out at crawl time that turned up in a shard or its stats anyway. */
  excludedButProcessed: string[];
  /** A sample without an `ok` outcome, or the other way round. */
  inconsistent: string[];
  /** Records whose end differs from what their audio and metadata called for, with their labels. */
  unexpected: { record: string; expected: string; got: string; labels: string[] }[];
  unexpectedCount: number;
  lostRecords: string[];
  failedByReason: Record<string, number>;
  filteredByReason: Record<string, number>;
}

const LIST_LIMIT = 25;

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export function balanceLedger(input: LedgerInput): Ledger {
  const sampleCount = new Map<string, number>();
  const keyCount = new Map<string, number>();
  for (const s of input.samples) {
    sampleCount.set(truthKey(s.source, s.id), (sampleCount.get(truthKey(s.source, s.id)) ?? 0) + 1);
    keyCount.set(s.key, (keyCount.get(s.key) ?? 0) + 1);
  }
  const outcomeOf = new Map<string, OutcomeSeen>();
  const outcomeCount = new Map<string, number>();
  for (const o of input.outcomes) {
    const record = truthKey(o.source, o.id);
    outcomeOf.set(record, o);
    outcomeCount.set(record, (outcomeCount.get(record) ?? 0) + 1);
  }

  const duplicated = new Set<string>();
  for (const [record, n] of [...sampleCount, ...outcomeCount]) if (n > 1) duplicated.add(record);
  for (const s of input.samples) if ((keyCount.get(s.key) ?? 0) > 1) duplicated.add(truthKey(s.source, s.id));

  const inconsistent: string[] = [];
  for (const record of sampleCount.keys()) if (outcomeOf.get(record)?.status !== 'ok') inconsistent.push(record);
  for (const [record, o] of outcomeOf) if (o.status === 'ok' && !sampleCount.has(record)) inconsistent.push(record);

  const unknown = [...new Set([...sampleCount.keys(), ...outcomeOf.keys()])].filter((record) => !input.truth.has(record));
  const failedByReason: Record<string, number> = {};
  const filteredByReason: Record<string, number> = {};
  const excludedButProcessed: string[] = [];
  const unexpected: Ledger['unexpected'] = [];
  const lostRecords: string[] = [];
  let inShards = 0;
  let failed = 0;
  let filtered = 0;
  let excludedExpected = 0;

  for (const [record, entry] of input.truth) {
    const outcome = outcomeOf.get(record);
    const sampled = sampleCount.has(record);
    if (entry.expect.outcome === 'excluded') {
      excludedExpected++;
      if (outcome || sampled) excludedButProcessed.push(record);
      continue;
    }
    let got: string;
    if (sampled) {
      inShards++;
      got = 'ok';
    } else if (outcome?.status === 'failed') {
      failed++;
      bump(failedByReason, outcome.reason ?? 'unknown');
      got = `failed:${outcome.reason ?? 'unknown'}`;
    } else if (outcome?.status === 'filtered') {
      filtered++;
      bump(filteredByReason, outcome.reason ?? 'unknown');
      got = `filtered:${outcome.reason ?? 'unknown'}`;
    } else {
      lostRecords.push(record);
      got = 'lost';
    }
    const wanted = entry.expect.outcome === 'ok' ? 'ok' : `${entry.expect.outcome}${'reason' in entry.expect && entry.expect.reason ? `:${entry.expect.reason}` : ''}`;
    const matches = got === wanted || (entry.expect.outcome === 'failed' && !('reason' in entry.expect && entry.expect.reason) && got.startsWith('failed:'));
    if (!matches) unexpected.push({ record, expected: wanted, got, labels: entry.labels });
  }
  // Exclusions are counted, not listed: any shortfall in the count is records nobody can account for.
  const excludedShortfall = Math.max(0, excludedExpected - input.optOutCounted);
  return {
    clips: input.truth.size,
    in_shards: inShards,
    failed,
    filtered,
    lost: lostRecords.length + excludedShortfall,
    duplicates: duplicated.size,
    excluded: { expected: excludedExpected, counted: input.optOutCounted },
    unknown: unknown.slice(0, LIST_LIMIT),
    excludedButProcessed: excludedButProcessed.slice(0, LIST_LIMIT),
    inconsistent: inconsistent.slice(0, LIST_LIMIT),
    unexpected: unexpected.slice(0, LIST_LIMIT),
    unexpectedCount: unexpected.length,
    lostRecords: lostRecords.slice(0, LIST_LIMIT),
    failedByReason,
    filteredByReason,
  };
}

/** Occurrences of any of `secrets` in `data` (non-overlapping per secret). */
export function countSecrets(data: Buffer | string, secrets: readonly string[]): number {
  const haystack = typeof data === 'string' ? Buffer.from(data) : data;
  let found = 0;
  for (const secret of secrets) {
    const needle = Buffer.from(secret);
    for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) found++;
  }
  return found;
}
