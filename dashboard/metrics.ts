import { Gauge, Registry } from 'prom-client';
import type { QueueContext } from '../infra/queues.ts';
import { readStageMetrics } from '../infra/stage-metrics.ts';
import { readHttpCounters } from '../infra/http/index.ts';
import { readLiveStats } from '../workers/shard/live-stats.ts';
import { readPipelineStatus } from '../crawl/queue-status.ts';

/**
 * Prometheus metrics computed at scrape time from Redis (queue counts, the workers' cumulative
 * stage counters, live dataset statistics), so any number of dashboards report the same numbers.
 */
export function createMetricsRegistry(ctx: QueueContext, datasets: () => readonly string[]): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'clapset_queue_jobs',
    help: 'Jobs in each stage queue by state',
    labelNames: ['stage', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of (await readPipelineStatus(ctx)).stages) {
        for (const state of ['waiting', 'active', 'delayed', 'waitingChildren', 'failed'] as const) this.set({ stage: s.stage, state }, s[state]);
      }
    },
  });
  new Gauge({
    name: 'clapset_stage_counter',
    help: 'Cumulative per-stage counters from all workers: jobs, seconds (processing time), clips_ok/failed/filtered, audio_seconds, bytes_written',
    labelNames: ['stage', 'counter'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [stage, counters] of Object.entries(await readStageMetrics(ctx.connection, ctx.prefix))) {
        for (const [counter, value] of Object.entries(counters)) this.set({ stage, counter }, value);
      }
    },
  });
  new Gauge({
    name: 'clapset_provider_http',
    help: 'Cumulative per-provider HTTP politeness counters from all workers: requests, throttled (waited for our limiter), http_429, backoffs, retries_exhausted, redirects_refused, hosts_refused, robots_excluded, too_large, quota_exhausted',
    labelNames: ['provider', 'counter'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [provider, counters] of Object.entries(await readHttpCounters(ctx.connection, ctx.prefix))) {
        for (const [counter, value] of Object.entries(counters)) this.set({ provider, counter }, value);
      }
    },
  });
  const perSource = (name: string, help: string, pick: (s: { samples: number; hours: number; failed: Record<string, number> }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['dataset', 'source'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const uri of datasets()) {
          const stats = await readLiveStats(ctx.connection, ctx.prefix, uri);
          for (const [source, tally] of Object.entries(stats.sources)) this.set({ dataset: uri, source }, pick(tally));
        }
      },
    });
  perSource('clapset_dataset_samples', 'Samples written per dataset and source', (s) => s.samples);
  perSource('clapset_dataset_hours', 'Audio hours written per dataset and source', (s) => s.hours);
  perSource('clapset_dataset_failures', 'Clips failed per dataset and source', (s) => Object.values(s.failed).reduce((a, b) => a + b, 0));
  return registry;
}
