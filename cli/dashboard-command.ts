import type { Command } from 'commander';
import { startDashboard } from '../dashboard/server.ts';
import { configFromEnv } from '../schemas/config.ts';
import { integerArg, normaliseDatasetUri, openQueueContext } from './context.ts';

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('Serve the web dashboard: per-source hours vs LAION-Audio-630K, length distributions, queues, failures, shards; /metrics and Bull Board at /queues')
    .option('--host <host>', 'address to bind (beyond loopback a token is required)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', integerArg, 8630)
    .option('--dataset <uri...>', 'datasets to show (those being crawled under this Redis prefix are shown anyway)')
    .option('--token <token>', 'require this token (default: CLAPSET_DASHBOARD_TOKEN)')
    .action(async (options: { host: string; port: number; dataset?: string[]; token?: string }) => {
      const config = configFromEnv();
      const ctx = await openQueueContext(config);
      const dashboard = await startDashboard({
        ctx,
        config,
        host: options.host,
        port: options.port,
        token: options.token ?? config.dashboardToken ?? null,
        datasets: (options.dataset ?? []).map(normaliseDatasetUri),
      });
      process.stderr.write(`dashboard at ${dashboard.url}/\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await dashboard.close();
      await ctx.close();
    });
}
