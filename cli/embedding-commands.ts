import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import { parseDevice } from '../infra/models/devices.ts';
import { openStore } from '../infra/store/open-store.ts';
import { configFromEnv } from '../schemas/config.ts';
import { MODEL_DTYPES, modelDtypeSchema } from '../schemas/dataset.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { featuresForFile } from '../workers/embed/features-file.ts';
import { ClapEmbedder } from '../workers/embed/clap-embedder.ts';
import { readManifest } from '../dataset/finalise.ts';
import { searchLike, searchText, type SearchHit } from '../search/search.ts';
import { integerArg, normaliseDatasetUri } from './context.ts';

function printHits(hits: readonly SearchHit[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify(hits));
    return;
  }
  for (const [i, hit] of hits.entries()) console.log(`${String(i + 1).padStart(3)}. ${hit.score.toFixed(4)}  ${hit.key}  (${hit.shard}.tar, row ${hit.row})`);
}

export function registerEmbeddingCommands(program: Command): void {
  program
    .command('search')
    .description("Text-to-audio (or audio-to-audio with --like) search over a dataset's CLAP embeddings: exact cosine, streamed from the .npy files")
    .argument('[text]', 'what the clips should sound like')
    .requiredOption('--dataset <uri>', 'a dataset with embeddings (crawled with --clap-model)')
    .option('--k <n>', 'how many results', integerArg, 10)
    .option('--like <key>', 'find clips that sound like this sample key instead of a text query')
    .option('--split <split>', 'only train or test')
    .option('--clap-model <dir|id>', "text encoder for the query (default: the dataset's model from manifest.json)")
    .option('--clap-dtype <dtype>', `its export: ${MODEL_DTYPES.join(', ')} (default: the dataset's, else fp32)`)
    .option('--device <device>', 'cpu, webgpu or cuda', 'cpu')
    .option('--concurrency <n>', 'embedding matrices read at once (raise it for S3: each read waits a round trip)', integerArg, 4)
    .option('--json', 'print the hits as JSON', false)
    .action(async (text: string | undefined, options: { dataset: string; k: number; like?: string; split?: string; clapModel?: string; clapDtype?: string; device: string; concurrency: number; json: boolean }) => {
      const store = openStore(normaliseDatasetUri(options.dataset));
      try {
        const search = { k: options.k, concurrency: options.concurrency, ...(options.split ? { split: options.split } : {}) };
        if (options.like) return printHits(await searchLike(store, options.like, search), options.json);
        if (!text) throw new Error('give a text query, or --like <key>');
        const manifest = await readManifest(store);
        const model = options.clapModel ?? manifest?.embedding?.model;
        if (!model) throw new Error(`${store.uri} records no embedding model; crawl it with --clap-model, or pass --clap-model`);
        // The dataset's own export embeds the query unless another model or dtype is asked for.
        const dtype = parseOrThrow(modelDtypeSchema, options.clapDtype ?? (options.clapModel === undefined ? manifest?.dataset.embed?.dtype : undefined) ?? 'fp32', '--clap-dtype');
        const embedder = await ClapEmbedder.load((await resolveModelDir(model)).dir, { device: parseDevice(options.device), dtype });
        try {
          printHits(await searchText(store, embedder, text, search), options.json);
        } finally {
          await embedder.close();
        }
      } finally {
        await store.close();
      }
    });

  program
    .command('features')
    .description("Write CLAP's model input for one audio file as .npy (48 kHz log-mel, 64 bins; fusion → (4, 1001, 64)), to compare with Python CLAP")
    .argument('<audio>', 'any file ffmpeg decodes')
    .requiredOption('--out <file.npy>', 'where to write the features')
    .option('--truncation <mode>', 'fusion or rand_trunc', 'fusion')
    .option('--filter-bank <bank>', 'htk (fused checkpoints) or slaney (unfused)')
    .option('--seed <n>', 'seed of the random crops', integerArg, 0)
    .action(async (audio: string, options: { out: string; truncation: string; filterBank?: string; seed: number }) => {
      if (options.truncation !== 'fusion' && options.truncation !== 'rand_trunc') throw new Error(`--truncation is fusion or rand_trunc, not ${JSON.stringify(options.truncation)}`);
      const filterBank = options.filterBank ?? (options.truncation === 'fusion' ? 'htk' : 'slaney');
      if (filterBank !== 'htk' && filterBank !== 'slaney') throw new Error(`--filter-bank is htk or slaney, not ${JSON.stringify(filterBank)}`);
      const result = await featuresForFile(audio, {
        truncation: options.truncation,
        filterBank,
        seed: options.seed,
        ffmpegPath: await locateFfmpeg(configFromEnv()),
      });
      await writeFile(options.out, result.npy);
      console.log(`${options.out}: (${result.features.shape.join(', ')}) float32, longer=${result.features.longer}, ${result.duration.toFixed(3)} s of audio`);
    });
}
