import { createHash } from 'node:crypto';
import type { ClipRecord } from '../schemas/clip.ts';
import { EXCLUSION_REASONS, type CrawlExclusions, type ExcludedCounts, type ExcludedIdsRef, type ExclusionReason } from '../schemas/exclusions.ts';
import type { CrawlJob } from '../schemas/jobs.ts';

/** A crawl's exclusion rules, ready to match records against. */
export interface ExclusionRules {
  licenses: ReadonlySet<string>;
  licensePrefixes: readonly string[];
  ids: ReadonlySet<string>;
}

export function compileRules(exclude: Pick<CrawlExclusions, 'licenses' | 'licensePrefixes'>, ids: Iterable<string> = []): ExclusionRules {
  return {
    licenses: new Set(exclude.licenses.map((l) => l.toLowerCase())),
    licensePrefixes: exclude.licensePrefixes.map((p) => p.toLowerCase()),
    ids: new Set(ids),
  };
}

/** Whether a crawl job has any exclusion rule at all. */
export function anyExclusions(exclude: CrawlExclusions): boolean {
  return exclude.licenses.length > 0 || exclude.licensePrefixes.length > 0 || exclude.ids !== null;
}

/**
 * Why a record is left out, or null. The provider's own opt-out comes first (it holds whatever
 * the rules say); an id on the list wins over a licence rule (it is the more specific statement).
 * A record without a licence is never excluded by licence: nothing says it carries the excluded terms.
 */
export function exclusionReason(record: Pick<ClipRecord, 'id' | 'license' | 'optedOut'>, rules: ExclusionRules): ExclusionReason | null {
  if (record.optedOut !== undefined) return 'opt_out';
  if (rules.ids.has(record.id)) return 'id';
  if (record.license === null) return null;
  const license = record.license.toLowerCase();
  if (rules.licenses.has(license) || rules.licensePrefixes.some((p) => license.startsWith(p))) return 'license';
  return null;
}

export function noneExcluded(): ExcludedCounts {
  return { license: 0, id: 0, opt_out: 0 };
}

export function totalExcluded(counts: ExcludedCounts): number {
  return EXCLUSION_REASONS.reduce((sum, reason) => sum + counts[reason], 0);
}

export function sameExcluded(a: ExcludedCounts, b: ExcludedCounts): boolean {
  return EXCLUSION_REASONS.every((reason) => a[reason] === b[reason]);
}

/**
 * An `--exclude-ids` file: one provider id per line, surrounding whitespace trimmed; blank lines
 * and lines starting with `#` are skipped. Returned sorted and unique, so the same ids always make
 * the same stored list (and hash) whatever order the file had.
 */
export function parseIdList(text: string): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return [...new Set(ids)].sort();
}

/** The stored copy of an id list for `source`, and the reference a crawl job carries to it. */
export function excludedIdsFile(source: string, ids: readonly string[]): { ref: ExcludedIdsRef; text: string } {
  const text = ids.map((id) => `${id}\n`).join('');
  const hash = sha256(text);
  return { ref: { key: `_crawl/${source}.exclude-ids.${hash.slice(0, 12)}.txt`, count: ids.length, sha256: hash }, text };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `crawl` excluding the provider ids in `ids`, and the id file to store with the dataset before it runs. */
export function withExcludedIds(crawl: CrawlJob, ids: readonly string[]): { crawl: CrawlJob; file: { ref: ExcludedIdsRef; text: string } } {
  const file = excludedIdsFile(crawl.source.name, ids);
  return { crawl: { ...crawl, exclude: { ...crawl.exclude, ids: file.ref } }, file };
}
