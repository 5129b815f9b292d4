import type { Config } from '../schemas/config.ts';
import type { CaptionSpec, EmbedSpec } from '../schemas/dataset.ts';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import { ClapEmbedder } from './embed/clap-embedder.ts';
import type { Device } from '../infra/models/devices.ts';
import { createCaptioner } from './caption/captioner.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { openStore } from '../infra/store/open-store.ts';
import type { Captioner } from './caption/captioner-types.ts';

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
  close(): Promise<void>;
}

export function createWorkerDeps(config: Config, ffmpegPath: string, options: { maxDownloadBytes?: number; device?: Device } = {}): WorkerDeps {
  const stores = new Map<string, ObjectStore>();
  const captioners = new Map<string, Promise<Captioner>>();
  const embedders = new Map<string, Promise<ClapEmbedder>>();
  const device = options.device ?? 'cpu';
  /** Loads once per key; a failed load is forgotten so the next job tries again. */
  const once = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let value = cache.get(key);
    if (!value) {
      value = load();
      value.catch(() => cache.delete(key));
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
    captioner: (spec) => once(captioners, JSON.stringify(spec), () => createCaptioner({ model: spec.model, batchSize: spec.batchSize, dtype: spec.dtype, device })),
    embedder: (spec) => once(embedders, JSON.stringify(spec), async () => ClapEmbedder.load((await resolveModelDir(spec.model)).dir, { device, dtype: spec.dtype })),
    async close() {
      await Promise.all([...stores.values()].map((s) => s.close()));
      await Promise.all([...captioners.values(), ...embedders.values()].map(async (c) => (await c.catch(() => null))?.close()));
      stores.clear();
      captioners.clear();
      embedders.clear();
    },
  };
}
