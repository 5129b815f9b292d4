import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAudiostockFixture, defaultAudiostockItems } from './providers/audiostock-server.ts';
import { defaultBbcRows, startBbcFixture } from './providers/bbc-server.ts';
import { buildZip, bundleZipEntries, makeBundleTree } from './providers/bundle-files.ts';
import { startBundleServer } from './providers/bundle-server.ts';
import { startEpidemicFixture } from './providers/epidemic-server.ts';
import { defaultFreesoundSounds, startFreesoundFixture } from './providers/freesound-server.ts';
import { laionAudio630kCrawls } from '../crawl/recipes/laion-audio-630k.ts';
import { settingsFrom } from '../crawl/source-settings.ts';
import type { DemoSetup } from './demo-setup.ts';

// Loopback stand-ins answer at once: let the limiters through (the real defaults are 1–60 per s/min).
const FAST = [{ limit: 200, windowMs: 1000 }];

/**
 * The LAION-Audio-630K recipe against local stand-ins of its eight providers: the provider fixture
 * servers (real HTTP on 127.0.0.1, real audio, the providers' wire formats) started in this
 * process, and one small bundle used four ways — a local zip (sonniss), a directory listing
 * (free-to-use-sounds), a zip read with Range requests (we-sound-effects) and a local folder (odeon).
 * Everything the recipe cannot default is given as settings, exactly as `--set` would; the fixture's
 * API key reaches the workers through their environment.
 */
export async function recipeDemo(scratch: string, datasetUri: string, say: (line: string) => void): Promise<DemoSetup> {
  const running: { close(): Promise<void> }[] = [];
  const close = async () => {
    await Promise.allSettled(running.map((r) => r.close()));
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    await rm(scratch, { recursive: true, force: true });
    const tree = join(scratch, 'bundle');
    const zip = join(scratch, 'Sonniss.com-GDC2024-GameAudioBundle1of9.zip');
    const files = await makeBundleTree(tree);
    await mkdir(scratch, { recursive: true });
    await writeFile(zip, buildZip(bundleZipEntries(files, { top: 'Sonniss.com - GDC 2024 - Game Audio Bundle' })));

    // Started together; if one fails, the others are still closed (none left holding the process open).
    const starting = [
      startFreesoundFixture({ sounds: defaultFreesoundSounds(12) }),
      startBbcFixture({ rows: defaultBbcRows(6), wavSeconds: 2 }),
      startEpidemicFixture({ perCategory: 3 }),
      startAudiostockFixture({ items: defaultAudiostockItems(5), pageSize: 3 }),
      startBundleServer({ root: tree, zips: { 'WeSoundEffects.zip': zip } }),
    ] as const;
    for (const started of await Promise.allSettled(starting)) if (started.status === 'fulfilled') running.push(started.value);
    const [freesound, bbc, epidemic, audiostock, bundles] = await Promise.all(starting);
    say(`started stand-ins of the eight providers on 127.0.0.1 (freesound ${freesound.origin}, bundles ${bundles.url}, …)`);

    const crawls = laionAudio630kCrawls({
      dataset: { uri: datasetUri, shardSize: 8, chunkSize: 6 },
      settings: settingsFrom({
        freesound: { apiBase: freesound.apiBase, mediaHosts: [freesound.mediaHost], pageSize: 4, rate: FAST, mediaRate: FAST },
        bbc: { index: bbc.csvUrl, mediaBase: bbc.mediaBase, rate: FAST },
        epidemic: { siteBase: epidemic.siteBase, mediaHosts: [epidemic.cdn.host], categories: ['Animals', 'Foley', 'Cartoon'], rate: FAST },
        audiostock: { listUrl: audiostock.listUrl, mediaHosts: [audiostock.previews.host], rate: FAST },
        sonniss: { root: zip },
        'free-to-use-sounds': { root: `${bundles.url}/listing/`, requestsPerSecond: 100 },
        'we-sound-effects': { root: `${bundles.url}/zip/WeSoundEffects.zip`, requestsPerSecond: 100 },
        odeon: { root: tree },
      }),
    });
    return { crawls, workerEnv: { FREESOUND_API_KEY: freesound.apiKey }, close };
  } catch (error) {
    await close();
    throw error;
  }
}
