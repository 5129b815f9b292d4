import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../schemas/config.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { openStore } from '../infra/store/open-store.ts';

/** What every stage processor needs from its process, opened once and shared by its jobs. */
export interface WorkerDeps {
  config: Config;
  ffmpegPath: string;
  /** Scratch space for fetched and transcoded files; each job uses and removes its own folder. */
  workRoot: string;
  /** Largest source file a clip may have. */
  maxDownloadBytes: number;
  store(uri: string): ObjectStore;
  close(): Promise<void>;
}

export function createWorkerDeps(config: Config, ffmpegPath: string, options: { maxDownloadBytes?: number } = {}): WorkerDeps {
  const stores = new Map<string, ObjectStore>();
  return {
    config,
    ffmpegPath,
    workRoot: process.env.CLAPSET_WORK_DIR ?? join(tmpdir(), 'clapset-work'),
    maxDownloadBytes: options.maxDownloadBytes ?? 2 * 1024 ** 3,
    store(uri) {
      let store = stores.get(uri);
      if (!store) stores.set(uri, (store = openStore(uri, config)));
      return store;
    },
    async close() {
      await Promise.all([...stores.values()].map((s) => s.close()));
      stores.clear();
    },
  };
}
