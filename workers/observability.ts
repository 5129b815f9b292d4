import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { errorMessage, log } from '../infra/log.ts';
import type { Stage } from '../infra/queues.ts';
import type { StageCounters } from '../infra/stage-metrics.ts';
import type { ObjectStore } from '../infra/store/object-store.ts';
import type { ModelBatchStats } from './worker-deps.ts';

/** What a worker process reports about each job attempt (crawl/run-workers.ts calls it). */
export interface JobObserver {
  jobDone(stage: Stage, outcome: 'completed' | 'failed', seconds: number, counters?: StageCounters): void;
}

/** One dependency /readyz asks; it rejects (or times out) when the dependency does not answer. */
export interface ReadinessCheck {
  name: string;
  probe(): Promise<void>;
}

export interface WorkerObservability extends JobObserver {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** From now on /readyz answers 503, so load balancers and Kubernetes stop counting on this worker while it drains. */
  setDraining(): void;
  readonly draining: boolean;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 3000;
// Chunks take from milliseconds (a cached shard) to minutes (a long clip through T5 and CLAP on a CPU).
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const CLIP_OUTCOMES = { clips_ok: 'ok', clips_failed: 'failed', clips_filtered: 'filtered' } as const;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Redis answers PING on the worker's own connection (which queues commands while reconnecting, hence the timeout). */
export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    async probe() {
      if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    },
  };
}

/**
 * The object store answers a listing: on S3 one ListObjectsV2 (which, unlike HEAD, tells a missing
 * bucket or bad credentials from an absent key), locally a read of one folder.
 */
export function storeCheck(store: ObjectStore): ReadinessCheck {
  return {
    name: 'store',
    async probe() {
      for await (const _ of store.list('_readyz/')) break;
    },
  };
}

/**
 * Serves a worker's `/metrics` (Prometheus text: process metrics, per-stage job durations, jobs and
 * clips by outcome; every series labelled with `host` and `queues`), `/healthz` (answering at all
 * shows the process and its event loop run) and `/readyz` (every check answers and the worker is
 * not draining). Counts are this process's own; the dashboard's /metrics sums all workers via Redis.
 */
export async function startWorkerObservability(options: {
  port: number;
  host?: string;
  queues: readonly Stage[];
  checks: readonly ReadinessCheck[];
  /** The shared model batchers' counters, read at each scrape (WorkerDeps.modelBatchStats). */
  modelBatches?: () => ModelBatchStats[];
}): Promise<WorkerObservability> {
  const registry = new Registry();
  const labels = { host: hostname(), queues: options.queues.join(',') };
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'clapset_worker_job_duration_seconds',
    help: 'Processing time of each job attempt by stage and outcome (completed, failed)',
    labelNames: ['stage', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const jobs = new Counter({ name: 'clapset_worker_jobs_total', help: 'Job attempts by stage and outcome (completed, failed)', labelNames: ['stage', 'outcome'], registers: [registry] });
  const clips = new Counter({ name: 'clapset_worker_clips_total', help: 'Clips this worker transcoded, by outcome (ok, failed, filtered)', labelNames: ['stage', 'outcome'], registers: [registry] });
  const drainingGauge = new Gauge({ name: 'clapset_worker_draining', help: '1 once the worker has stopped taking jobs and is finishing its active ones', registers: [registry] });
  // How full the caption/embed model runs are: items / runs is the mean batch, merged runs mixed chunk jobs.
  const batchCounter = (name: string, help: string, value: (stats: ModelBatchStats['stats']) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['batcher', 'model'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { batcher, model, stats } of options.modelBatches?.() ?? []) this.inc({ batcher, model }, value(stats));
      },
    });
  batchCounter('clapset_worker_model_runs_total', 'Model session runs of the shared caption/embed batchers', (s) => s.runs);
  batchCounter('clapset_worker_model_items_total', 'Items (clips, captions, keyword lists) those runs processed', (s) => s.items);
  batchCounter('clapset_worker_model_merged_runs_total', 'Runs that held items of more than one chunk job', (s) => s.mergedRuns);
  // Pre-create the series, so a scrape before the first job shows zeros rather than nothing.
  for (const stage of options.queues) for (const outcome of ['completed', 'failed']) jobs.inc({ stage, outcome }, 0);
  drainingGauge.set(0);

  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let draining = false;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const readiness = async () => {
    const results = await Promise.all(
      options.checks.map(async (check) => {
        try {
          await withTimeout(check.probe(), CHECK_TIMEOUT_MS);
          return [check.name, 'ok'] as const;
        } catch (error) {
          return [check.name, errorMessage(error)] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    return { ready: !draining && results.every(([, result]) => result === 'ok'), draining, checks, ...labels };
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://worker').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'GET only' });
    if (path === '/healthz') {
      return send(res, 200, { ok: true, uptime_s: Math.round(process.uptime()), event_loop_delay_p99_ms: loopDelay.percentile(99) / 1e6, ...labels });
    }
    if (path === '/readyz') {
      readiness().then((body) => send(res, body.ready ? 200 : 503, body), (error: unknown) => send(res, 500, { error: errorMessage(error) }));
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (error: unknown) => send(res, 500, { error: errorMessage(error) }),
      );
      return;
    }
    send(res, 404, { error: 'not found; try /metrics, /healthz or /readyz' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`worker metrics cannot listen on ${options.host ?? '0.0.0.0'}:${options.port}: ${errorMessage(error)}`)));
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  log.info('worker metrics listening', { port, paths: ['/metrics', '/healthz', '/readyz'] });

  return {
    port,
    get draining() {
      return draining;
    },
    setDraining() {
      draining = true;
      drainingGauge.set(1);
    },
    jobDone(stage, outcome, seconds, counters = {}) {
      duration.observe({ stage, outcome }, seconds);
      jobs.inc({ stage, outcome });
      for (const [counter, clipOutcome] of Object.entries(CLIP_OUTCOMES)) {
        const n = counters[counter];
        if (n) clips.inc({ stage, outcome: clipOutcome }, n);
      }
    },
    async close() {
      loopDelay.disable();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // keep-alive scrapers would otherwise hold close() open
      await closed;
    },
  };
}
