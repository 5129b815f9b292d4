import type { Command } from 'commander';
import { bar } from '../infra/progress.ts';
import { EXCLUSION_REASONS, type ExcludedCounts } from '../schemas/exclusions.ts';
import { readPipelineStatus, type PipelineStatus } from '../crawl/queue-status.ts';
import { openQueueContext, positiveArg } from './context.ts';

export function renderStatus(status: PipelineStatus): string {
  const lines = [`queues (prefix ${status.prefix})`];
  lines.push('  stage       waiting  active  delayed  children  failed   done/min (1m, 5m avg)');
  for (const s of status.stages) {
    lines.push(
      `  ${s.stage.padEnd(10)} ${String(s.waiting).padStart(8)} ${String(s.active).padStart(7)} ${String(s.delayed).padStart(8)} ` +
        `${String(s.waitingChildren).padStart(9)} ${String(s.failed).padStart(7)}   ${s.completedLastMinute}, ${s.completedPerMinute.toFixed(1)}`,
    );
  }
  lines.push('crawls');
  if (status.crawls.length === 0) lines.push('  none');
  for (const c of status.crawls) {
    const p = c.progress;
    const settled = (p.shardsDone ?? 0) + (p.shardsSkipped ?? 0) + (p.shardsFailed ?? 0);
    lines.push(`  ${c.source} → ${c.dataset} [${c.state}] ${bar(settled, p.shardsPlanned ?? null)} shards, ${p.records ?? 0} records${describeExcluded(p.excluded)}`);
    if (c.failedReason) lines.push(`    failed: ${c.failedReason}`);
  }
  return lines.join('\n');
}

/** `, 5 excluded (license 3, opt_out 2)`, or nothing when the crawl left nothing out. */
function describeExcluded(counts: Partial<ExcludedCounts> | undefined): string {
  // Partial: a crawl job of an older clapset may lack a reason.
  const parts = EXCLUSION_REASONS.map((reason) => [reason, counts?.[reason] ?? 0] as const).filter(([, n]) => n > 0);
  if (parts.length === 0) return '';
  const total = parts.reduce((sum, [, n]) => sum + n, 0);
  return `, ${total} excluded (${parts.map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Per-stage queue counts and completion rates, and the progress of every crawl')
    .option('--json', 'print one JSON object', false)
    .option('--watch [seconds]', 'refresh every this many seconds (default 2) until interrupted', positiveArg)
    .action(async (options: { json: boolean; watch?: number | true }) => {
      const intervalSec = options.watch === true ? 2 : options.watch;
      const ctx = await openQueueContext();
      try {
        for (;;) {
          const status = await readPipelineStatus(ctx);
          if (options.json) console.log(JSON.stringify(status));
          else {
            if (intervalSec !== undefined && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
            console.log(renderStatus(status));
          }
          if (intervalSec === undefined) break;
          await new Promise((r) => setTimeout(r, 1000 * intervalSec));
        }
      } finally {
        await ctx.close();
      }
    });
}
