import type { QueueContext } from '../infra/queues.ts';
import { redact } from '../infra/log.ts';
import { readStageMetrics } from '../infra/stage-metrics.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import { LAION_AUDIO_630K } from '../dataset/dataset-card.ts';
import { readManifest } from '../dataset/finalise.ts';
import { readLiveShards, readLiveStats, readRecentFailures } from '../workers/shard/live-stats.ts';
import { readPipelineStatus } from '../crawl/queue-status.ts';
import { readProbes } from '../sources/probe-history.ts';
import { datasetStatsSchema } from '../schemas/stats.ts';
import { parseOrThrow } from '../schemas/parse.ts';
import { readJson, STATS_KEY } from '../infra/store/dataset-layout.ts';

export interface DashboardDataset {
  uri: string;
  store: ObjectStore;
}

/** Everything the page shows, in one JSON document; messages pass through `redact` on the way out. */
export async function buildOverview(ctx: QueueContext, datasets: readonly DashboardDataset[]) {
  const [queues, stageMetrics, probes] = await Promise.all([readPipelineStatus(ctx), readStageMetrics(ctx.connection, ctx.prefix), readProbes(ctx.connection, ctx.prefix)]);
  for (const crawl of queues.crawls) if (crawl.failedReason) crawl.failedReason = redact(crawl.failedReason);
  return {
    generated_at: new Date().toISOString(),
    laion: LAION_AUDIO_630K,
    queues,
    stageMetrics,
    probes: probes.map((p) => ({ ...p, problems: p.problems.map(redact) })),
    datasets: await Promise.all(
      datasets.map(async ({ uri, store }, index) => ({
        uri,
        index,
        live: await readLiveStats(ctx.connection, ctx.prefix, uri),
        embeddings: (await readManifest(store).catch(() => null))?.embedding ?? null,
        finalised: (await store.exists(STATS_KEY)) ? parseOrThrow(datasetStatsSchema, await readJson(store, STATS_KEY), STATS_KEY) : null,
        failures: (await readRecentFailures(ctx.connection, ctx.prefix, uri)).map((f) => ({ ...f, message: redact(f.message) })),
        shards: (await readLiveShards(ctx.connection, ctx.prefix, uri)).map(([name, s]) => ({ name, samples: s.successes, url: `/files/${index}/${name}.tar` })),
      })),
    ),
  };
}
