import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { readManifest } from '../dataset/finalise.ts';
import { searchLike, searchText, type SearchHit } from '../search/search.ts';
import { ClapEmbedder } from '../workers/embed/clap-embedder.ts';

/** Text or `like` search for the dashboard, with one CLAP text encoder per model loaded on first use. */
export function dashboardSearch() {
  const embedders = new Map<string, Promise<ClapEmbedder>>();
  const embedder = (model: string) => {
    let loaded = embedders.get(model);
    if (!loaded) {
      loaded = resolveModelDir(model).then((m) => ClapEmbedder.load(m.dir));
      loaded.catch(() => embedders.delete(model));
      embedders.set(model, loaded);
    }
    return loaded;
  };
  return {
    async search(store: ObjectStore, query: { text?: string; like?: string; k: number }): Promise<SearchHit[]> {
      if (query.like) return searchLike(store, query.like, { k: query.k });
      const model = (await readManifest(store))?.embedding?.model;
      if (!model) throw new Error('this dataset has no embeddings');
      return searchText(store, await embedder(model), query.text ?? '', { k: query.k });
    },
    async close() {
      await Promise.all([...embedders.values()].map(async (e) => (await e.catch(() => null))?.close()));
    },
  };
}

/** Streams one member out of a shard's tar (for the page's audio players); null when absent. */
export async function tarMember(store: ObjectStore, tarKey: string, member: string): Promise<Readable | null> {
  const source = await store.getStream(tarKey);
  const extract = tar.extract();
  return new Promise((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      if (header.name !== member) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      // Found: hand the member over and stop reading the rest of the tar once it has been read.
      stream.on('end', () => source.destroy());
      resolve(stream as unknown as Readable);
    });
    extract.on('finish', () => resolve(null));
    extract.on('error', reject);
    source.on('error', reject);
    source.pipe(extract as unknown as NodeJS.WritableStream);
  });
}
