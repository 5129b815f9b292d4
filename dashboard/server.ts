import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { errorMessage } from '../infra/log.ts';
import { PACKAGE_ROOT } from '../infra/package-root.ts';
import { openQueue, STAGES, type QueueContext } from '../infra/queues.ts';
import { NotFoundError, safeKey } from '../infra/store/object-store.ts';
import { openStore } from '../infra/store/open-store.ts';
import { liveDatasets } from '../workers/shard/live-stats.ts';
import type { Config } from '../schemas/config.ts';
import { checkBinding, tokenGuard } from './auth.ts';
import { createMetricsRegistry } from './metrics.ts';
import { buildOverview, type DashboardDataset } from './overview.ts';
import { dashboardSearch, tarMember } from './search.ts';

export interface DashboardOptions {
  ctx: QueueContext;
  config: Config;
  host: string;
  port: number;
  token: string | null;
  /** Datasets to show besides those with live statistics under the prefix. */
  datasets: readonly string[];
  /** Seconds between live updates pushed to the page. */
  refreshSeconds?: number;
}

export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

const PUBLIC = join(PACKAGE_ROOT, 'dashboard', 'public'); // not compiled: served from the sources' folder

/** The dashboard: the page, its JSON and event-stream API, shard downloads, `/metrics` and Bull Board. */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  checkBinding(options.host, options.token);
  const { ctx } = options;
  const stores = new Map<string, DashboardDataset>();
  const datasets = async (): Promise<DashboardDataset[]> => {
    for (const uri of [...options.datasets, ...(await liveDatasets(ctx.connection, ctx.prefix))]) {
      if (!stores.has(uri)) stores.set(uri, { uri, store: openStore(uri, options.config) });
    }
    return [...stores.values()];
  };
  const queues = STAGES.map((stage) => openQueue(ctx, stage));
  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: board });
  const metrics = createMetricsRegistry(ctx, () => [...stores.keys()]);
  const search = dashboardSearch();

  const app = express();
  app.disable('x-powered-by');
  app.use(tokenGuard(options.token));
  app.use('/queues', board.getRouter());
  app.get('/api/overview', async (_req, res) => {
    res.json(await buildOverview(ctx, await datasets()));
  });
  app.get('/api/events', async (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    let open = true;
    req.on('close', () => (open = false));
    while (open) {
      try {
        res.write(`data: ${JSON.stringify(await buildOverview(ctx, await datasets()))}\n\n`);
      } catch (error) {
        res.write(`event: problem\ndata: ${JSON.stringify(errorMessage(error))}\n\n`);
      }
      await new Promise((r) => setTimeout(r, (options.refreshSeconds ?? 2) * 1000));
    }
  });
  app.get('/files/:index/{*path}', async (req, res) => {
    const dataset = (await datasets())[Number(req.params.index)];
    const path = ([] as string[]).concat(req.params.path ?? []).join('/');
    if (!dataset) return void res.status(404).send('no such dataset');
    try {
      const stream = await dataset.store.getStream(safeKey(path));
      res.type(path.endsWith('.tar') ? 'application/x-tar' : 'application/octet-stream');
      stream.pipe(res);
    } catch (error) {
      res.status(error instanceof NotFoundError ? 404 : 400).type('text/plain').send(errorMessage(error));
    }
  });
  app.get('/api/search', async (req, res) => {
    const dataset = (await datasets())[Number(req.query.dataset ?? 0)];
    if (!dataset) return void res.status(404).json({ error: 'no such dataset' });
    const text = typeof req.query.q === 'string' ? req.query.q : undefined;
    const like = typeof req.query.like === 'string' ? req.query.like : undefined;
    if (!text && !like) return void res.status(400).json({ error: 'give q=<text> or like=<key>' });
    try {
      const hits = await search.search(dataset.store, { ...(text ? { text } : {}), ...(like ? { like } : {}), k: Math.min(100, Number(req.query.k ?? 10) || 10) });
      const index = (await datasets()).indexOf(dataset);
      res.json(hits.map((h) => ({ ...h, audio: `/api/audio/${index}/${h.shard}/${h.key}.flac` })));
    } catch (error) {
      res.status(400).json({ error: errorMessage(error) });
    }
  });
  app.get('/api/audio/:index/:split/:shard/:member', async (req, res) => {
    const dataset = (await datasets())[Number(req.params.index)];
    const { split, shard, member } = req.params;
    if (!dataset || !/^[a-z0-9-]+$/.test(split) || !/^[a-z0-9-]+$/.test(shard) || !/^[^./]+\.flac$/.test(member)) {
      return void res.status(404).send('no such sample');
    }
    const audio = await tarMember(dataset.store, safeKey(`${split}/${shard}.tar`), member).catch(() => null);
    if (!audio) return void res.status(404).send('no such sample');
    res.type('audio/flac');
    audio.pipe(res);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  app.use(express.static(PUBLIC));
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).type('text/plain').send(errorMessage(error));
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await Promise.all([...queues.map((q) => q.close()), ...[...stores.values()].map((d) => d.store.close()), search.close()]);
    },
  };
}
