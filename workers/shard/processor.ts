import { Transform } from 'node:stream';
import { UnrecoverableError, type Job } from 'bullmq';
import { shardJobSchema, type ClipResult } from '../../schemas/jobs.ts';
import { childClipResults } from '../child-results.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { shardStatsSchema, type ShardStats } from '../../schemas/stats.ts';
import type { ObjectStore } from '../../infra/store/object-store.ts';
import type { QueueContext } from '../../infra/queues.ts';
import { recordShardLive } from './live-stats.ts';
import type { WorkerDeps } from '../worker-deps.ts';
import { buildShardStats, resolveClipResults, transientFailures } from './shard-stats.ts';
import { errorMessage, log } from '../../infra/log.ts';
import { tarStream, type TarMember } from './tar-writer.ts';
import { npyRowStream } from '../../infra/npy.ts';
import { encodeMetadataParquet } from '../../infra/parquet.ts';
import { sampleJsonSchema } from '../../schemas/sample.ts';
import { decodeStagedEmbedding } from '../embed/processor.ts';
import { CLAP_EMBEDDING_DIM, embeddingKeys } from '../embed/layout.ts';
import { shardKeys, readJson } from '../../infra/store/dataset-layout.ts';
import { fetchAhead } from '../../infra/pool.ts';

type ShardJobHandle = Pick<Job, 'data' | 'getChildrenValues' | 'getIgnoredChildrenFailures'>;

/**
 * Runs when all of a shard's transcode chunks have finished (failed ones included): streams the
 * staged members into `<split>/<shard>.tar`, then writes `<shard>_stats.json` — last, because its
 * presence marks the shard done — and clears the shard's staging prefix.
 */
export async function processShardJob(job: ShardJobHandle, deps: WorkerDeps, live: QueueContext | null = null): Promise<ShardStats> {
  const data = parseOrThrow(shardJobSchema, job.data, 'shard job');
  const store = deps.store(data.dataset.uri);
  const keys = shardKeys(data.shard);
  // A previous attempt (or a twin flow added after a Redis wipe) finished the shard: keep its output,
  // and clear whatever this flow staged again.
  if (await store.exists(keys.stats)) {
    await clearStaging(store, keys.staging);
    return parseOrThrow(shardStatsSchema, JSON.parse((await store.getBuffer(keys.stats)).toString('utf8')), keys.stats);
  }

  const start = new Date();
  const children = await childClipResults(job);
  const jobFailures = Object.values(await job.getIgnoredChildrenFailures());
  const results = resolveClipResults(data.clips, children, jobFailures);
  const transient = transientFailures(results);
  if (transient.length > 0) {
    // Writing the stats now would make these clips lost for good (resume skips done shards). Left
    // undone, `crawl --resume` or `repair` redoes the shard; failing unrecoverably spares pointless retries.
    await clearStaging(store, keys.staging).catch((error: unknown) => log.warn('could not clear staging', { shard: data.shard.name, error: errorMessage(error) }));
    throw new UnrecoverableError(
      `shard ${data.shard.split}/${data.shard.name} left unfinished: ${transient.length} of ${results.length} clip(s) ended for transient reasons (${transient[0]!.message.slice(0, 300)})`,
    );
  }

  const bytesWritten = await writeShardTar(store, keys.tar, keys.staging, results);
  if (data.dataset.embed) await writeShardEmbeddings(store, data.shard.split, data.shard.name, keys.staging, results);
  const stats = buildShardStats(data.shard, results, { start, end: new Date() }, bytesWritten);
  await store.put(keys.stats, JSON.stringify(stats, null, 1), { contentType: 'application/json' });
  await clearStaging(store, keys.staging);
  if (live) await recordShardLive(live.connection, live.prefix, data.dataset.uri, stats, results);
  return stats;
}

/** Staged members read ahead of the tar writer: one object read per round trip made a shard of short clips wait on ~1,000 sequential GETs. */
const READ_AHEAD = { limit: 16, maxBytes: 64 * 1024 * 1024 };
/** Members above this are streamed when their turn comes, never held whole. */
const STREAMED_MEMBER_BYTES = 8 * 1024 * 1024;

async function writeShardTar(store: ObjectStore, tarKey: string, staging: string, results: readonly ClipResult[]): Promise<number> {
  const wanted = results.flatMap((r) =>
    r.status === 'ok' ? [{ name: `${r.key}.flac`, size: r.flacBytes }, { name: `${r.key}.json`, size: r.jsonBytes }] : [],
  );
  const small = (m: { size: number }) => m.size <= STREAMED_MEMBER_BYTES;
  const members = fetchAhead(
    wanted,
    async (m): Promise<TarMember> => ({ ...m, body: small(m) ? await store.getBuffer(`${staging}${m.name}`) : () => store.getStream(`${staging}${m.name}`) }),
    { limit: READ_AHEAD.limit, weight: (m) => (small(m) ? m.size : 0), maxWeight: READ_AHEAD.maxBytes },
  );
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const tar = tarStream(members);
  tar.on('error', (error) => counter.destroy(error)); // pipe() alone would leave the upload waiting forever
  await store.put(tarKey, tar.pipe(counter), { contentType: 'application/x-tar' });
  return bytes;
}

/**
 * `embeddings/<split>/<shard>.{audio,text}.npy` and `.parquet`, rows in tar order. The matrices are
 * streamed row by row from the staged `<key>.emb` files, so a shard's embeddings are never whole in memory.
 */
async function writeShardEmbeddings(store: ObjectStore, split: string, shard: string, staging: string, results: readonly ClipResult[]): Promise<void> {
  const ok = results.filter((r) => r.status === 'ok');
  const keys = embeddingKeys(split, shard);
  const rows = (kind: 'audio' | 'text') =>
    (async function* () {
      for (const r of ok) yield decodeStagedEmbedding(await store.getBuffer(`${staging}${r.key}.emb`), CLAP_EMBEDDING_DIM)[kind];
    })();
  await store.put(keys.audio, npyRowStream(rows('audio'), [ok.length, CLAP_EMBEDDING_DIM]), { contentType: 'application/octet-stream' });
  await store.put(keys.text, npyRowStream(rows('text'), [ok.length, CLAP_EMBEDDING_DIM]), { contentType: 'application/octet-stream' });
  const metadata = [];
  for (const r of ok) {
    const sample = parseOrThrow(sampleJsonSchema, await readJson(store, `${staging}${r.key}.json`), `${r.key}.json`);
    metadata.push({ key: r.key, caption: sample.text[0]!, source: sample.source, duration: sample.duration });
  }
  await store.put(keys.metadata, encodeMetadataParquet(metadata), { contentType: 'application/vnd.apache.parquet' });
}

export async function clearStaging(store: ObjectStore, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  await store.delete(keys);
}
