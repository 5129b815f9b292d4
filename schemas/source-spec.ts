import { z } from 'zod';

const sourceName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'source names are lower-case letters, digits and dashes');

/** A local folder or zip archive of audio files, with an optional CSV/JSONL manifest. */
export const localSourceSpecSchema = z.object({
  type: z.literal('local'),
  name: sourceName.default('local'),
  /** A folder (walked recursively) or a `.zip` archive. */
  root: z.string().min(1),
  /** Optional CSV or JSONL manifest; relative `file` entries resolve against `root`. */
  manifest: z.string().min(1).optional(),
  /** Licence recorded for every clip unless its manifest row names one. */
  license: z.string().min(1).optional(),
});

/** The purchased sound-effect bundles LAION-Audio-630K used; one generic adapter (sources/bundle/). */
export const BUNDLE_PROVIDERS = ['sonniss', 'free-to-use-sounds', 'we-sound-effects', 'odeon'] as const;
export type BundleProvider = (typeof BUNDLE_PROVIDERS)[number];

/** A purchased bundle: a folder, a `.zip`, a zip URL (read with Range requests) or a directory-listing URL. */
function bundleSourceSpecSchema<P extends BundleProvider>(provider: P) {
  return z.object({
    type: z.literal(provider),
    name: sourceName.default(provider),
    /** A local folder or `.zip`, or an http(s) URL of a `.zip` or of a web-server directory listing. */
    root: z.string().min(1),
    /** How to read an http(s) root: by default a path ending in `.zip` is an archive, anything else a listing. */
    format: z.enum(['auto', 'zip', 'listing']).default('auto'),
    /** Licence recorded on every clip; defaults to the provider's label (sources/bundle/providers.ts). */
    license: z.string().min(1).optional(),
    /** Cap on an archive downloaded whole because its server ignores Range requests. */
    maxArchiveBytes: z.number().int().positive().optional(),
    /** Hosts besides the root's that redirects may reach (a mirror's CDN); `*.example.org` allowed. */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Requests per second to the root's host, shared by every worker (Redis). */
    requestsPerSecond: z.number().positive().max(100).default(4),
    /**
     * `clapset`: every audio type, caption = file name with `_` as spaces; `laion`: as LAION built
     * these subsets — WAV files only, caption = the file name without `.wav`, as written.
     */
    rule: z.enum(['clapset', 'laion']).default('clapset'),
  });
}
export const sonnissSourceSpecSchema = bundleSourceSpecSchema('sonniss');
export const freeToUseSoundsSourceSpecSchema = bundleSourceSpecSchema('free-to-use-sounds');
export const weSoundEffectsSourceSpecSchema = bundleSourceSpecSchema('we-sound-effects');
export const odeonSourceSpecSchema = bundleSourceSpecSchema('odeon');

// ---- Remote providers (sources/freesound, bbc, epidemic, audiostock): politeness lives in infra/http.

/** At most `limit` requests in any `windowMs`, shared by every worker (infra/http rate limiter). */
const rateWindowSchema = z.object({ limit: z.number().int().positive(), windowMs: z.number().int().positive() });

/** Freesound APIv2 search. Credentials come from the environment variables named here, never the spec. */
export const freesoundSourceSpecSchema = z.object({
  type: z.literal('freesound'),
  name: sourceName.default('freesound'),
  apiBase: z.string().url().default('https://freesound.org/apiv2/'),
  /** Hosts preview (and redirected original) audio may come from, as URL.host values. */
  mediaHosts: z.array(z.string().min(1)).default(['cdn.freesound.org']),
  query: z.string().default(''),
  /** Extra Solr filter, ANDed with the duration and sample-rate filters. */
  filter: z.string().optional(),
  /** `created_asc` by default: new uploads land after the crawled pages instead of shifting them. */
  sort: z.enum(['score', 'created_asc', 'created_desc', 'duration_asc', 'duration_desc', 'downloads_asc', 'downloads_desc', 'rating_asc', 'rating_desc']).default('created_asc'),
  pageSize: z.number().int().min(1).max(150).default(150),
  /** Pushed into the API filter (`duration:[0 TO 180]`, `samplerate:[16000 TO *]`); null disables. */
  maxDuration: z.number().positive().nullable().default(180),
  minSampleRate: z.number().int().positive().nullable().default(16000),
  audio: z.enum(['preview-hq-mp3', 'preview-lq-mp3', 'preview-hq-ogg', 'preview-lq-ogg', 'original']).default('preview-hq-mp3'),
  /** `gen_ai_preference` values whose sounds the crawl leaves out (counted as `opt_out` exclusions). */
  excludeGenAi: z.array(z.string()).default(['no-gen-ai']),
  apiKeyEnv: z.string().default('FREESOUND_API_KEY'),
  /** For `audio: original` (OAuth2): access token, and what refreshes it on 401 or expiry. */
  oauthEnv: z
    .object({
      accessToken: z.string().default('FREESOUND_OAUTH_TOKEN'),
      refreshToken: z.string().default('FREESOUND_REFRESH_TOKEN'),
      clientId: z.string().default('FREESOUND_CLIENT_ID'),
      clientSecret: z.string().default('FREESOUND_CLIENT_SECRET'),
    })
    .prefault({}),
  /** Level-1 API keys: 60/min and 2,000/day. */
  rate: z.array(rateWindowSchema).min(1).default([{ limit: 60, windowMs: 60_000 }, { limit: 2000, windowMs: 86_400_000 }]),
  /** Preview downloads come from the CDN, not the API: their own, gentler limit. */
  mediaRate: z.array(rateWindowSchema).min(1).default([{ limit: 10, windowMs: 1000 }]),
  maxPages: z.number().int().positive().optional(),
});

/** BBC Sound Effects: the CSV index (URL or path) or the search API; audio from the WAV mirror. */
export const bbcSourceSpecSchema = z.object({
  type: z.literal('bbc'),
  name: sourceName.default('bbc'),
  mode: z.enum(['csv', 'search']).default('csv'),
  /**
   * `BBCSoundEffects.csv`: an http(s) URL or a local path; required in csv mode. No default: the
   * old public host (bbcsfx.acropolis.org.uk) is dead and redirects to the bbcrewind home page.
   */
  index: z.string().min(1).optional(),
  /** `{location}` is appended (URL-encoded). */
  mediaBase: z.string().url().default('https://sound-effects-media.bbcrewind.co.uk/wav/'),
  searchApi: z.string().url().default('https://sound-effects-api.bbcrewind.co.uk/api/sfx/search'),
  searchQuery: z.string().optional(),
  searchCategories: z.array(z.string()).optional(),
  /** Public clients report the API refuses offsets past ~900: a search crawl partitions by searchCategories. */
  searchPageSize: z.number().int().min(1).max(500).default(100),
  license: z.string().min(1).default('bbc-remarc'),
  rate: z.array(rateWindowSchema).min(1).default([{ limit: 5, windowMs: 1000 }]),
  /** Extra hosts the WAV mirror may redirect to. */
  mediaHosts: z.array(z.string().min(1)).default([]),
  maxPages: z.number().int().positive().optional(),
});

/** Epidemic Sound's site JSON, one paged listing per category. */
export const epidemicSourceSpecSchema = z.object({
  type: z.literal('epidemic'),
  name: sourceName.default('epidemic'),
  siteBase: z.string().url().default('https://www.epidemicsound.com/'),
  /** Categories (the `genres` parameter), crawled in this order. */
  categories: z.array(z.string().min(1)).min(1),
  mediaHosts: z.array(z.string().min(1)).default(['audiocdn.epidemicsound.com']),
  license: z.string().min(1).default('epidemic-sound'),
  rate: z.array(rateWindowSchema).min(1).default([{ limit: 1, windowMs: 1000 }]),
  maxPages: z.number().int().positive().optional(),
});

/** Audiostock listing pages (HTML); audio via `/audio/{id}/play`, which redirects to a preview. */
export const audiostockSourceSpecSchema = z.object({
  type: z.literal('audiostock'),
  name: sourceName.default('audiostock'),
  /** A listing URL with `{page}` where the page number goes (audiostock.net, LAION's, is gone; `/se` on .jp is unverified). */
  listUrl: z.string().url().default('https://audiostock.jp/se?page={page}'),
  firstPage: z.number().int().min(0).default(1),
  /** Where play URLs redirect: the 128 kbps previews (`/audio-sample-128kbps/<id>-<hash>.mp3`). */
  mediaHosts: z.array(z.string().min(1)).default(['cf-audiostock-public-files.audiostock.jp']),
  license: z.string().min(1).default('audiostock'),
  rate: z.array(rateWindowSchema).min(1).default([{ limit: 1, windowMs: 1000 }]),
  maxPages: z.number().int().positive().optional(),
});

/** Everything a worker on any host needs to reopen a source: plain data, never credentials. */
export const sourceSpecSchema = z.discriminatedUnion('type', [
  localSourceSpecSchema,
  sonnissSourceSpecSchema,
  freeToUseSoundsSourceSpecSchema,
  weSoundEffectsSourceSpecSchema,
  odeonSourceSpecSchema,
  freesoundSourceSpecSchema,
  bbcSourceSpecSchema,
  epidemicSourceSpecSchema,
  audiostockSourceSpecSchema,
]);
export type SourceSpec = z.infer<typeof sourceSpecSchema>;
export type LocalSourceSpec = z.infer<typeof localSourceSpecSchema>;
export type BundleSourceSpec = Extract<SourceSpec, { type: BundleProvider }>;
export type FreesoundSourceSpec = z.infer<typeof freesoundSourceSpecSchema>;
export type BbcSourceSpec = z.infer<typeof bbcSourceSpecSchema>;
export type EpidemicSourceSpec = z.infer<typeof epidemicSourceSpecSchema>;
export type AudiostockSourceSpec = z.infer<typeof audiostockSourceSpecSchema>;
