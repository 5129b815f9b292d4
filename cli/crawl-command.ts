import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { configFromEnv, type Config } from '../schemas/config.ts';
import { MODEL_DTYPES } from '../schemas/dataset.ts';
import type { ExcludedCounts, ExcludedIdsRef } from '../schemas/exclusions.ts';
import { crawlJobSchema, type CrawlJob } from '../schemas/jobs.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import type { SourceSpec } from '../schemas/source-spec.ts';
import { dryRunRecords, needsSourceContext, type DryRunTally } from '../crawl/dry-run.ts';
import { compileRules, noneExcluded, parseIdList, totalExcluded, withExcludedIds } from '../crawl/exclusion-rules.ts';
import { LAION_AUDIO_630K, LAION_AUDIO_630K_SOURCES, laionAudio630kCrawls } from '../crawl/recipes/laion-audio-630k.ts';
import { runCrawls } from '../crawl/run-crawl.ts';
import { applySettings, givenPaths, parseSetting, parseSourceSpec, SOURCE_TYPES } from '../crawl/source-settings.ts';
import { integerArg, normaliseDatasetUri, numberArg, openQueueContext } from './context.ts';
import { publicUrlArg } from './dataset-commands.ts';

interface CrawlOptions {
  dataset?: string;
  recipe?: string;
  root?: string;
  manifest?: string;
  name?: string;
  license?: string;
  set: string[];
  excludeLicense: string[];
  excludeLicensePrefix: string[];
  excludeIds: string[];
  shardSize: number;
  testFraction: number;
  splitSeed: string;
  chunkSize: number;
  maxDuration?: number;
  minSampleRate?: number;
  limit?: number;
  maxShardsInFlight: number;
  resume: boolean;
  allowEvictionPolicy?: boolean;
  workers: number;
  concurrency: number;
  json: boolean;
  dryRun: boolean;
  caption: boolean;
  captionModel?: string;
  captionBatchSize: number;
  captionDtype: string;
  clapModel?: string;
  clapDtype: string;
  publicUrl?: string;
}

const optional = (v: number | undefined) => v ?? null;

/** The dataset settings every crawl of this command shares (input of `datasetSpecSchema`). */
function datasetFromOptions(options: CrawlOptions, uri: string) {
  return {
    uri,
    shardSize: options.shardSize,
    testFraction: options.testFraction,
    splitSeed: options.splitSeed,
    chunkSize: options.chunkSize,
    filters: { maxDurationSec: optional(options.maxDuration), minSampleRate: optional(options.minSampleRate) },
    caption: options.caption
      ? { model: options.captionModel ?? null, batchSize: options.captionBatchSize, dtype: options.captionDtype }
      : null,
    embed: options.clapModel ? { model: options.clapModel, dtype: options.clapDtype } : null,
    publicUrl: options.publicUrl ?? null,
  };
}

/** The source spec from `--root/--manifest/--name/--license` and `--set key=value`, validated (errors name field and value). */
export function sourceSpecFromOptions(sourceType: string, options: Pick<CrawlOptions, 'root' | 'manifest' | 'name' | 'license' | 'set'>): SourceSpec {
  const given = Object.fromEntries(
    Object.entries({ root: options.root, manifest: options.manifest, name: options.name, license: options.license }).filter(([, v]) => v !== undefined),
  );
  const settings = options.set.map(parseSetting);
  if (settings.some((s) => s.path[0] === 'type')) throw new Error('--set type=…: give the source type as the <source> argument');
  return parseSourceSpec(applySettings({ type: sourceType, ...given }, settings), givenPaths(given, settings), 'crawl options');
}

export function crawlJobFromOptions(sourceType: string, options: CrawlOptions): CrawlJob {
  return parseOrThrow(
    crawlJobSchema,
    {
      dataset: datasetFromOptions(options, normaliseDatasetUri(options.dataset ?? '')),
      source: sourceSpecFromOptions(sourceType, options),
      limit: optional(options.limit),
      maxShardsInFlight: options.maxShardsInFlight,
      exclude: { licenses: options.excludeLicense, licensePrefixes: options.excludeLicensePrefix },
    },
    'crawl options',
  );
}

function recipeCrawls(options: CrawlOptions, uri: string): CrawlJob[] {
  if (options.recipe !== LAION_AUDIO_630K) throw new Error(`unknown recipe ${JSON.stringify(options.recipe)}; recipes: ${LAION_AUDIO_630K}`);
  const own = (['root', 'manifest', 'name', 'license', 'maxDuration', 'minSampleRate'] as const).filter((k) => options[k] !== undefined);
  if (own.length > 0) {
    throw new Error(`--recipe sets every source itself; instead of ${own.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} use --set <source>.<key>=value`);
  }
  return laionAudio630kCrawls({
    dataset: datasetFromOptions(options, uri),
    settings: options.set.map(parseSetting),
    exclude: { licenses: options.excludeLicense, licensePrefixes: options.excludeLicensePrefix },
    limit: optional(options.limit),
    maxShardsInFlight: options.maxShardsInFlight,
  });
}

/**
 * `--exclude-ids`: id files per crawl. A single-source crawl takes plain files (their ids are
 * merged); with --recipe each names its source, `<source>=<file>`, since provider ids of different
 * sources may coincide.
 */
async function excludedIdsFor(crawls: readonly CrawlJob[], values: readonly string[], recipe: boolean): Promise<Map<CrawlJob, string[]>> {
  const texts = new Map<CrawlJob, string[]>();
  for (const value of values) {
    let crawl = crawls[0]!;
    let file = value;
    if (recipe) {
      const eq = value.indexOf('=');
      const source = value.slice(0, eq);
      const match = eq > 0 ? crawls.find((c) => c.source.type === source) : undefined;
      if (match === undefined) throw new Error(`--exclude-ids ${value}: with --recipe give <source>=<file>, <source> one of ${LAION_AUDIO_630K_SOURCES.join(', ')}`);
      [crawl, file] = [match, value.slice(eq + 1)];
    }
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`--exclude-ids: cannot read ${file}: ${error.code ?? error.message}`);
    });
    texts.set(crawl, [...(texts.get(crawl) ?? []), text]);
  }
  return new Map([...texts].map(([crawl, parts]) => [crawl, parseIdList(parts.join('\n'))]));
}

/** Every crawl this invocation asks for, with the id lists it excludes. */
async function plannedCrawls(sourceType: string | undefined, options: CrawlOptions) {
  if (options.recipe !== undefined && sourceType !== undefined) throw new Error(`give either a <source> or --recipe, not both`);
  if (options.recipe === undefined && sourceType === undefined) throw new Error(`give a <source> (${SOURCE_TYPES.join(', ')}) or --recipe ${LAION_AUDIO_630K}`);
  // A dry run writes nothing: its crawl jobs get a placeholder dataset, never submitted.
  const crawls =
    options.recipe !== undefined
      ? recipeCrawls(options, normaliseDatasetUri(options.dataset ?? '.'))
      : [crawlJobFromOptions(sourceType!, { ...options, dataset: options.dataset ?? '.' })];
  if (options.dataset === undefined && !options.dryRun) throw new Error(`--dataset <uri> is required (except with --dry-run)`);
  const ids = await excludedIdsFor(crawls, options.excludeIds, options.recipe !== undefined);
  const files: { ref: ExcludedIdsRef; text: string }[] = [];
  const planned = crawls.map((crawl) => {
    const list = ids.get(crawl);
    if (list === undefined) return { crawl, ids: [] as string[] };
    const attached = withExcludedIds(crawl, list);
    files.push(attached.file);
    return { crawl: attached.crawl, ids: list };
  });
  return { planned, files };
}

/** Prints what each crawl would plan, one record per line; reads listings only (see dry-run.ts). */
async function dryRun(config: Config, planned: { crawl: CrawlJob; ids: string[] }[], json: boolean): Promise<void> {
  const ctx = planned.some(({ crawl }) => needsSourceContext(crawl.source)) ? await openQueueContext(config) : null;
  try {
    for (const { crawl, ids } of planned) {
      const tally: DryRunTally = { records: 0, duplicates: 0, excluded: noneExcluded() };
      const records = dryRunRecords(crawl.source, {
        rules: compileRules(crawl.exclude, ids),
        limit: crawl.limit,
        tally,
        ...(ctx ? { context: { redis: ctx.connection, prefix: ctx.prefix } } : {}),
      });
      for await (const record of records) {
        console.log(json ? JSON.stringify(record) : `${crawl.source.name}\t${record.id}\t${record.license ?? '-'}\t${record.text[0] ?? ''}`);
      }
      process.stderr.write(
        `dry run ${crawl.source.name}: ${tally.records} records, ${tally.duplicates} duplicates, ` +
          `excluded ${tally.excluded.license} by licence, ${tally.excluded.id} by id and ${tally.excluded.opt_out} by the provider's opt-out; nothing fetched or enqueued\n`,
      );
    }
  } finally {
    await ctx?.close();
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];
const collectList = (value: string, previous: string[]) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerCrawlCommand(program: Command): void {
  program
    .command('crawl')
    .description('Crawl a source into a dataset: positional shards of clips, transcoded by the workers and written as WebDataset tars')
    .argument(
      '[source]',
      `source type: local (a folder or .zip of audio files); freesound, bbc, epidemic, audiostock (providers; credentials from the environment); ` +
        `sonniss, free-to-use-sounds, we-sound-effects, odeon (purchased bundles: --root). Omit with --recipe`,
    )
    .option('--dataset <uri>', 'output: a folder, or s3://bucket/prefix (endpoint and credentials from the environment); required unless --dry-run')
    .option('--recipe <name>', `crawl a whole corpus: ${LAION_AUDIO_630K} (its eight providers, LAION's settings; --set <source>.<key>=value)`)
    .option('--root <path>', 'local and bundles: the folder or .zip (bundles also an http(s) zip or directory listing)')
    .option('--manifest <file>', 'local: CSV or JSONL with file, caption, tags, license columns')
    .option('--name <name>', 'source name used in keys, shard names and stats (default: the source type)')
    .option('--license <id>', 'licence recorded for every clip without one of its own')
    .option('--set <key=value>', 'a source setting (repeatable): value as JSON when it parses, else a string; dotted keys for nested fields; with --recipe <source>.<key>=value (see docs/sources.md)', collect, [])
    .option('--exclude-license <ids>', 'leave out clips with these licence ids, e.g. cc-by-nc-3.0,cc-by-nc-4.0 (counted, never fetched)', collectList, [])
    .option('--exclude-license-prefix <prefixes>', 'leave out clips whose licence id starts with one of these, e.g. cc-by-nc (counted, never fetched)', collectList, [])
    .option('--exclude-ids <file>', 'leave out these provider ids, one per line (e.g. evaluation-set ids); with --recipe <source>=<file>; repeatable', collect, [])
    .option('--shard-size <n>', 'samples per shard', integerArg, 512)
    .option('--test-fraction <x>', 'fraction of clips in the test split (seeded by key)', numberArg, 0.1)
    .option('--split-seed <seed>', 'seed of the train/test assignment', 'clapset')
    .option('--chunk-size <n>', 'clips per transcode job (one ffmpeg process each)', integerArg, 16)
    .option('--max-duration <seconds>', "filter out clips longer than this (LAION's Freesound rule: 180)", numberArg)
    .option('--min-sample-rate <hz>', "filter out clips whose source rate is below this (LAION's Freesound rule: 16000)", integerArg)
    .option('--caption-model <dir|id>', 'T5 keyword-to-caption model folder or hub id (default: CLAPSET_CAPTION_MODEL, else LAION\'s template "the sounds of a, b, and c.")')
    .option('--caption-batch-size <n>', 'keyword lists per model call', integerArg, 8)
    .option('--caption-dtype <dtype>', `which export of the caption model: ${MODEL_DTYPES.join(', ')} (file suffixes _fp16, _quantized, …)`, 'fp32')
    .option('--no-caption', 'skip the caption stage (no text_augment_t5)')
    .option('--clap-model <dir|id>', 'CLAP model folder or hub id: adds the embed stage (default: CLAPSET_CLAP_MODEL; none: no embeddings)')
    .option('--clap-dtype <dtype>', `which export of the CLAP model: ${MODEL_DTYPES.join(', ')} (file suffixes _fp16, _quantized, …)`, 'fp32')
    .option('--public-url <url>', 'http(s) base the dataset root is served from (public bucket, CDN): the card gives https URLs (kept by later crawls)', publicUrlArg)
    .option('--limit <n>', 'stop after this many source records (per source)', integerArg)
    .option('--max-shards-in-flight <n>', 'shards queued at once (bounds what Redis holds)', integerArg, 4)
    .option('--resume', 'continue an existing dataset: shards whose stats exist are skipped', false)
    .option('--allow-eviction-policy', 'run even when Redis may evict keys (maxmemory-policy not noeviction): a warning instead of a refusal (also CLAPSET_ALLOW_EVICTION_POLICY=1)', false)
    .option('--workers <n>', 'worker processes to start on this host for the crawl (0: use workers already running)', integerArg, 0)
    .option('--concurrency <n>', 'transcode concurrency of each started worker', integerArg, 2)
    .option('--dry-run', 'print the records the crawl would plan (after exclusions, up to --limit) and stop: no audio fetched, nothing enqueued', false)
    .option('--json', 'print the summary as one JSON line (with --dry-run: one ClipRecord per line)', false)
    .action(async (sourceType: string | undefined, given: CrawlOptions) => {
      const config = configFromEnv();
      const options = { ...given, captionModel: given.captionModel ?? config.captionModel, clapModel: given.clapModel ?? config.clapModel };
      const { planned, files } = await plannedCrawls(sourceType, options);
      if (options.dryRun) return dryRun(config, planned, options.json);
      const crawls = planned.map((p) => p.crawl);
      const ctx = await openQueueContext(config);
      try {
        const result = await runCrawls(config, ctx, crawls, {
          resume: options.resume,
          allowEvictionPolicy: options.allowEvictionPolicy,
          localWorkers: options.workers,
          workerConcurrency: options.concurrency,
          excludedIds: files,
        });
        // A crawl job of an older clapset (attached to with --resume) reports no exclusions.
        const excluded = (e: ExcludedCounts | undefined) => (e ? totalExcluded(e) : 0);
        if (options.recipe === undefined) {
          const summary = result.summaries[0]!;
          if (options.json) console.log(JSON.stringify({ dataset: result.dataset, ...summary }));
          else
            console.log(
              `${result.dataset}: ${summary.samples} samples (${summary.hours.toFixed(3)} h), ${summary.failed} failed, ${summary.filtered} filtered` +
                `${excluded(summary.excluded) > 0 ? `, ${excluded(summary.excluded)} excluded` : ''}; ` +
                `${summary.shardsDone} shards written, ${summary.shardsSkipped} already done`,
            );
          return;
        }
        const { totals } = result.stats;
        if (options.json) {
          console.log(
            JSON.stringify({
              dataset: result.dataset,
              recipe: options.recipe,
              samples: totals.samples,
              hours: totals.hours,
              failed: totals.failed,
              filtered: totals.filtered,
              excluded: totals.excluded ?? 0,
              sources: Object.fromEntries(result.summaries.map(({ source, ...s }) => [source, s])),
            }),
          );
          return;
        }
        for (const s of result.summaries) {
          console.log(`${s.source.padEnd(20)} ${String(s.samples).padStart(8)} samples ${s.hours.toFixed(3).padStart(10)} h  ${s.failed} failed, ${s.filtered} filtered, ${excluded(s.excluded)} excluded`);
        }
        console.log(`${result.dataset}: ${totals.samples} samples (${totals.hours.toFixed(3)} h) from ${result.summaries.length} sources`);
      } finally {
        await ctx.close();
      }
    });
}
