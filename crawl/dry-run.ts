import type { ClipRecord } from '../schemas/clip.ts';
import type { ExcludedCounts } from '../schemas/exclusions.ts';
import { BUNDLE_PROVIDERS, type BundleSourceSpec, type SourceSpec } from '../schemas/source-spec.ts';
import { bundleLocation } from '../sources/bundle/location.ts';
import { createSource } from '../sources/registry.ts';
import { exclusionReason, type ExclusionRules } from './exclusion-rules.ts';
import type { SourceContext } from '../sources/source.ts';

/** Whether listing a source's records takes a SourceContext (Redis, for the shared rate limiter). */
export function needsSourceContext(spec: SourceSpec): boolean {
  if (spec.type === 'local') return false;
  if ((BUNDLE_PROVIDERS as readonly string[]).includes(spec.type)) return bundleLocation(spec as BundleSourceSpec).kind !== 'local';
  return true;
}

export interface DryRunTally {
  records: number;
  duplicates: number;
  excluded: ExcludedCounts;
}

/**
 * The records a crawl of `spec` would plan, in crawl order: exclusions applied and counted,
 * duplicate provider ids dropped (first wins, as the planner does), at most `limit`. Only listings
 * are read — no audio is fetched and nothing is enqueued.
 */
export async function* dryRunRecords(
  spec: SourceSpec,
  options: { rules: ExclusionRules; limit: number | null; tally: DryRunTally; context?: SourceContext },
): AsyncGenerator<ClipRecord> {
  const { rules, limit, tally } = options;
  const seen = new Set<string>();
  for await (const record of createSource(spec, options.context).records()) {
    const reason = exclusionReason(record, rules);
    if (reason !== null) {
      tally.excluded[reason]++;
      continue;
    }
    if (seen.has(record.id)) {
      tally.duplicates++;
      continue;
    }
    seen.add(record.id);
    tally.records++;
    yield record;
    // Stop at once (a crawl reads one record further): a dry run need not ask for one more page.
    if (limit !== null && tally.records >= limit) return;
  }
}
