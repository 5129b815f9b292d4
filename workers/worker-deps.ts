import type { Config } from '../schemas/config.ts';
import type { CaptionSpec, EmbedSpec } from '../schemas/dataset.ts';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import { ClapEmbedder } from './embed/clap-embedder.ts';
import { defaultFeatureThreads } from './embed/feature-pool.ts';
import type { Device } from '../infra/models/devices.ts';
import { createCaptioner } from './caption/captioner.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { openStore } from '../infra/store/open-store.ts';
import type { Captioner } from './caption/captioner-types.ts';
import type { BatcherStats } from './batching/batcher.ts';

/** One shared batcher of a loaded model (`t5`, `clap-audio`, `clap-text`) and what it did so far. */
export interface ModelBatchStats {
  batcher: string;
  model: string;
  stats: BatcherStats;
}

/** What every stage processor needs from its process, opened once and shared by its jobs. */
export interface WorkerDeps {
  config: Config;
  ffmpegPath: string;
  /** Scratch space for fetched and transcoded files; each job uses and removes its own folder. */
  workRoot: string;
  /** Largest source file a clip may have. */
  maxDownloadBytes: number;
  store(uri: string): ObjectStore;
  /** One captioner per model and batch size for the life of the process (models load once). */
  captioner(spec: CaptionSpec): Promise<Captioner>;
  /** Likewise one CLAP embedder per model. */
  embedder(spec: EmbedSpec): Promise<ClapEmbedder>;
  /** The batchers of the models loaded so far (`/metrics`: runs, items, runs merged across jobs). */
  modelBatchStats(): ModelBatchStats[];
  close(): Promise<void>;
}

export interface WorkerDepsOptions {
  maxDownloadBytes?: number;
  device?: Device;
  /**
   * Items per model run, assembled across the caption/embed jobs in flight (`clapset worker
   * --batch-size`): CLAP audio clips (default 8), CLAP text captions (at least 64), T5 keyword lists
   * (default: the dataset's caption batch size, `crawl --caption-batch-size`).
   */
  batchSize?: number;
  /** Worker threads computing CLAP features (default: cores − 1, 1 to 4; `--feature-threads`). */
  featureThreads?: number;
  /** Longest wait of a partial batch for other jobs' requests, ms (default 10). */
  lingerMs?: number;
}

export function createWorkerDeps(config: Config, ffmpegPath: string, options: WorkerDepsOptions = {}): WorkerDeps {
  const stores = new Map<string, ObjectStore>();
  const captioners = new Map<string, Promise<Captioner>>();
  const embedders = new Map<string, Promise<ClapEmbedder>>();
  const device = options.device ?? 'cpu';
  const linger = options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs };
  /** Loads once per key; a failed load is forgotten so the next job tries again. */
  /** Batch counters of every model once loaded, read synchronously at each scrape. */
  const loaded: (() => ModelBatchStats[])[] = [];
  const once = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>, stats: (value: T) => ModelBatchStats[]): Promise<T> => {
    let value = cache.get(key);
    if (!value) {
      value = load();
      value.then((v) => loaded.push(() => stats(v)), () => cache.delete(key));
      cache.set(key, value);
    }
    return value;
  };
  return {
    config,
    ffmpegPath,
    workRoot: config.workDir,
    maxDownloadBytes: options.maxDownloadBytes ?? 2 * 1024 ** 3,
    store(uri) {
      let store = stores.get(uri);
      if (!store) stores.set(uri, (store = openStore(uri, config)));
      return store;
    },
    captioner: (spec) =>
      once(
        captioners,
        JSON.stringify(spec),
        () => createCaptioner({ model: spec.model, batchSize: options.batchSize ?? spec.batchSize, dtype: spec.dtype, device, ...linger }),
        (captioner) => (captioner.batchStats ? [{ batcher: 't5', model: spec.model ?? 'template', stats: captioner.batchStats() }] : []),
      ),
    embedder: (spec) =>
      once(embedders, JSON.stringify(spec), async () =>
        ClapEmbedder.load((await resolveModelDir(spec.model)).dir, {
          device,
          dtype: spec.dtype,
          audioBatchSize: options.batchSize ?? 8,
          textBatchSize: Math.max(64, options.batchSize ?? 0),
          featureThreads: options.featureThreads ?? defaultFeatureThreads(),
          ...linger,
        }),
        (embedder) => {
          const { audio, text } = embedder.batchStats();
          return [{ batcher: 'clap-audio', model: spec.model, stats: audio }, { batcher: 'clap-text', model: spec.model, stats: text }];
        },
      ),
    modelBatchStats: () => loaded.flatMap((stats) => stats()),
    async close() {
      await Promise.all([...stores.values()].map((s) => s.close()));
      await Promise.all([...captioners.values(), ...embedders.values()].map(async (c) => (await c.catch(() => null))?.close()));
      stores.clear();
      captioners.clear();
      embedders.clear();
      loaded.length = 0;
    },
  };
}
