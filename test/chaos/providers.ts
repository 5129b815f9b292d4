/**
 * The chaos run's providers: the Freesound and BBC fixtures serving a seeded catalogue from the audio
 * pool, with its download faults armed and its throttles set to the limits the crawl specs name, a
 * loopback "admin console" the planted redirects point at (no request may reach it), and the crawl
 * jobs that read from them.
 */
import type { RateWindow } from '../../infra/http/policy.ts';
import { sampleKey } from '../../crawl/sample-key.ts';
import { assignSplit } from '../../crawl/split.ts';
import { crawlJobSchema, type CrawlJob } from '../../schemas/jobs.ts';
import { startBbcFixture, type BbcFixture } from '../../demo/providers/bbc-server.ts';
import { sendText, startHttpServer } from '../../demo/providers/common.ts';
import { startFreesoundFixture, type FreesoundFixture } from '../../demo/providers/freesound-server.ts';
import type { AudioPool } from './audio-pool.ts';
import { makeCatalogue, type Catalogue } from './catalogue.ts';

export interface Rates {
  freesoundApi: RateWindow;
  freesoundMedia: RateWindow;
  bbc: RateWindow;
}

export interface ChaosProviders {
  catalogue: Catalogue;
  freesound: FreesoundFixture;
  bbc: BbcFixture;
  /** Requests that reached the disallowed admin port. */
  adminHits(): number;
  close(): Promise<void>;
}

export async function startProviders(options: {
  seed: string;
  clips: number;
  bomb: boolean;
  rates: Rates;
  apiKey: string;
  pool: AudioPool;
  /** 429s the first BBC index fetch meets (then one 5xx). */
  indexStorm: number;
}): Promise<ChaosProviders> {
  let adminHits = 0;
  const admin = await startHttpServer((_req, res) => (adminHits++, sendText(res, 200, 'admin console')));
  const catalogue = makeCatalogue({ ...options, refusedRedirectTo: `${admin.origin}/admin/delete-everything` });
  const freesound = await startFreesoundFixture({
    sounds: catalogue.sounds,
    apiKey: options.apiKey,
    throttle: options.rates.freesoundApi,
    mediaThrottle: options.rates.freesoundMedia,
    previewAudio: (id) => catalogue.previewAudio.get(id),
  });
  for (const [id, fault] of catalogue.previewFaults) freesound.faults.previews.set(id, { ...fault });
  const bbc = await startBbcFixture({ rows: catalogue.rows, throttle: options.rates.bbc, wavAudio: (location) => catalogue.wavAudio.get(location), csvBytes: catalogue.csvBytes });
  for (const [location, fault] of catalogue.wavFaults) bbc.faults.wavs.set(location, { ...fault });
  // The first index fetch meets a 429 storm, then a 5xx (within the client's 6 retries).
  bbc.faults.next429 = options.indexStorm;
  bbc.faults.next5xx = 1;
  return {
    catalogue,
    freesound,
    bbc,
    adminHits: () => adminHits,
    close: async () => {
      await Promise.all([freesound.close(), bbc.close(), admin.close()]);
    },
  };
}

/** The two crawl jobs into the one dataset, LAION's Freesound filters on for both. */
export function crawlJobs(providers: ChaosProviders, options: { dataset: string; shardSize: number; chunkSize: number; pageSize: number; rates: Rates }): CrawlJob[] {
  const { freesound, bbc } = providers;
  const dataset = { uri: options.dataset, shardSize: options.shardSize, chunkSize: options.chunkSize, testFraction: 0.1 };
  const filters = { maxDurationSec: 180, minSampleRate: 16000 };
  return [
    crawlJobSchema.parse({
      dataset,
      filters,
      source: {
        type: 'freesound',
        name: 'freesound',
        apiBase: freesound.apiBase,
        mediaHosts: [freesound.mediaHost],
        pageSize: options.pageSize,
        rate: [options.rates.freesoundApi],
        mediaRate: [options.rates.freesoundMedia],
      },
    }),
    crawlJobSchema.parse({ dataset, filters, source: { type: 'bbc', name: 'bbc', mode: 'csv', index: bbc.csvUrl, mediaBase: bbc.mediaBase, rate: [options.rates.bbc] } }),
  ];
}

/** How many shards the crawls will cut: every offered record not excluded at crawl time, per source and split. */
export function plannedShards(catalogue: Catalogue, shardSize: number): number {
  const counts = new Map<string, number>();
  for (const entry of catalogue.truth.values()) {
    if (entry.expect.outcome === 'excluded') continue;
    const split = `${entry.source}/${assignSplit(sampleKey(entry.source, entry.id), 'clapset', 0.1)}`;
    counts.set(split, (counts.get(split) ?? 0) + 1);
  }
  return [...counts.values()].reduce((n, c) => n + Math.ceil(c / shardSize), 0);
}
