import type { Command } from 'commander';
import { configFromEnv } from '../schemas/config.ts';
import { needsSourceContext } from '../crawl/dry-run.ts';
import { SOURCE_TYPES } from '../crawl/source-settings.ts';
import { probeSource, type ProbeReport } from '../sources/probe.ts';
import { recordProbe } from '../sources/probe-history.ts';
import { createSource } from '../sources/registry.ts';
import { redisAnswers } from '../infra/redis/connection.ts';
import { openQueueContext } from './context.ts';
import { sourceSpecFromOptions } from './crawl-command.ts';

interface ProbeOptions {
  root?: string;
  manifest?: string;
  name?: string;
  license?: string;
  set: string[];
  json: boolean;
}

const mark = (value: boolean | null) => (value === null ? 'not checked' : value ? 'yes' : 'NO');

function render(report: ProbeReport): string {
  const lines = [
    `${report.source}: ${report.ok ? 'ok' : 'DRIFT'}`,
    `  reachable       ${mark(report.reachable)}`,
    `  authorised      ${mark(report.authorised)}`,
    `  format          ${mark(report.format)}`,
    `  media           ${mark(report.media)}${report.sample ? ` (${report.sample.audio})` : ''}`,
    `  provider total  ${report.total ?? 'not stated'}`,
    ...report.problems.map((p) => `  problem: ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerProbeCommand(program: Command): void {
  program
    .command('probe')
    .description('Check a source before a crawl with a handful of polite requests: its first listing page (reachable, authorised, format as expected, the provider\'s total) and one ranged media request; exit 1 on any drift, naming it')
    .argument('<source>', `source type: ${SOURCE_TYPES.join(', ')}`)
    .option('--root <path>', 'local and bundles: the folder or .zip (bundles also an http(s) zip or directory listing)')
    .option('--manifest <file>', 'local: CSV or JSONL manifest')
    .option('--name <name>', 'source name')
    .option('--license <id>', 'licence recorded for every clip')
    .option('--set <key=value>', 'a source setting (repeatable), as for clapset crawl', (value: string, previous: string[]) => [...previous, value], [])
    .option('--json', 'print the report as one JSON object', false)
    .action(async (sourceType: string, options: ProbeOptions) => {
      const spec = sourceSpecFromOptions(sourceType, options);
      const config = configFromEnv();
      // Remote sources need Redis (the shared rate limit); a local one records its probe when Redis is there.
      const ctx = needsSourceContext(spec) || (await redisAnswers(config.redisUrl)) ? await openQueueContext(config) : null;
      try {
        // Few retries: a probe reports trouble, it does not sit it out.
        const context = ctx ? { redis: ctx.connection, prefix: ctx.prefix, http: { retries: 1 } } : undefined;
        const report = await probeSource(createSource(spec, context));
        // For the dashboard's "last probe" table.
        if (ctx) await recordProbe(ctx.connection, ctx.prefix, report);
        process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : render(report));
        if (!report.ok) process.exitCode = 1;
      } finally {
        await ctx?.close();
      }
    });
}
