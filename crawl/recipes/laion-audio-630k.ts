import type { CrawlExclusions } from '../../schemas/exclusions.ts';
import { crawlJobSchema, type CrawlJob } from '../../schemas/jobs.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { applySettings, givenPaths, parseSourceSpec, type Setting } from '../source-settings.ts';

export const LAION_AUDIO_630K = 'laion-audio-630k';

/** The eight providers of LAION-Audio-630K, as source types (each also the default source name). */
export const LAION_AUDIO_630K_SOURCES = ['freesound', 'bbc', 'epidemic', 'audiostock', 'free-to-use-sounds', 'sonniss', 'we-sound-effects', 'odeon'] as const;
export type LaionSource = (typeof LAION_AUDIO_630K_SOURCES)[number];

/**
 * Settings with no safe default: where the operator's copy of each purchased bundle and of the BBC
 * index is (nothing can guess it; the BBC's old index host is dead), and which Epidemic categories to crawl (LAION took 43; the site's list changes).
 */
const REQUIRED: Partial<Record<LaionSource, { key: string; example: string; unlessMode?: string }>> = {
  epidemic: { key: 'categories', example: `'["Ambience","Animals","Cartoon"]'` },
  bbc: { key: 'index', example: '<path or URL of a copy of BBCSoundEffects.csv>', unlessMode: 'search' },
  'free-to-use-sounds': { key: 'root', example: '<folder, .zip, or http(s) URL of a zip or listing>' },
  sonniss: { key: 'root', example: '<folder, .zip, or http(s) URL of a zip or listing>' },
  'we-sound-effects': { key: 'root', example: '<folder, .zip, or http(s) URL of a zip or listing>' },
  odeon: { key: 'root', example: '<folder, .zip, or http(s) URL of a zip or listing>' },
};

export interface LaionRecipeOptions {
  /** Dataset settings (input of `datasetSpecSchema`) shared by every crawl; its filters are the recipe's. */
  dataset: Record<string, unknown>;
  /** `--set <source>.<key>=value`: the first segment names the source (its type), the rest a spec field. */
  settings: readonly Setting[];
  /** Licence exclusions applied to every source. */
  exclude?: Pick<CrawlExclusions, 'licenses' | 'licensePrefixes'>;
  limit?: number | null;
  maxShardsInFlight?: number;
}

/**
 * LAION-Audio-630K's crawl plan: one crawl job per provider into one dataset. Freesound gets LAION's
 * filters (≤ 3 min, ≥ 16 kHz), both pushed into its API search and as the crawl's own filters
 * (taken from the spec, so `--set freesound.maxDuration=…` moves both); the others are unfiltered,
 * as LAION left them. Pure: options in, validated jobs out; a missing setting without a safe
 * default is an error naming every `--set` key to provide.
 */
export function laionAudio630kCrawls(options: LaionRecipeOptions): CrawlJob[] {
  const bySource = new Map<LaionSource, Setting[]>(LAION_AUDIO_630K_SOURCES.map((s) => [s, []]));
  for (const setting of options.settings) {
    const [head, ...path] = setting.path;
    const own = bySource.get(head as LaionSource);
    if (own === undefined || path.length === 0) {
      throw new Error(`--set ${setting.text}: the ${LAION_AUDIO_630K} recipe takes <source>.<key>=value, <source> one of ${LAION_AUDIO_630K_SOURCES.join(', ')}`);
    }
    if (path[0] === 'type') throw new Error(`--set ${setting.text}: a recipe source's type is fixed`);
    own.push({ ...setting, path });
  }
  const missing = Object.entries(REQUIRED)
    .filter(([source, { key, unlessMode }]) => {
      const given = bySource.get(source as LaionSource)!.filter((s) => s.path.length === 1);
      return !given.some((s) => s.path[0] === key || (unlessMode !== undefined && s.path[0] === 'mode' && s.value === unlessMode));
    })
    .map(([source, { key, example }]) => `--set ${source}.${key}=${example}`);
  if (missing.length > 0) {
    throw new Error(`the ${LAION_AUDIO_630K} recipe needs settings that have no safe default: ${missing.join('; ')}`);
  }

  return LAION_AUDIO_630K_SOURCES.map((type) => {
    const settings = bySource.get(type)!;
    const input = applySettings({ type }, settings);
    const what = `${LAION_AUDIO_630K} recipe, source ${type}`;
    const source = parseSourceSpec(input, givenPaths({}, settings), what);
    const filters = source.type === 'freesound' ? { maxDurationSec: source.maxDuration, minSampleRate: source.minSampleRate } : null;
    return parseOrThrow(
      crawlJobSchema,
      {
        dataset: { ...options.dataset, filters: { maxDurationSec: null, minSampleRate: null } },
        source,
        filters,
        limit: options.limit ?? null,
        ...(options.maxShardsInFlight === undefined ? {} : { maxShardsInFlight: options.maxShardsInFlight }),
        exclude: { licenses: [], licensePrefixes: [], ...options.exclude },
      },
      what,
    );
  });
}
