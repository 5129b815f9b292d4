/**
 * `npm run chaos [-- --ci --seed s --clips n --workers n --keep]`: the full chaos run (issues 7, 12). Progress
 * and the details go to stderr; the last line on stdout is the report. Exits 1 when anything is lost
 * or doubled, a secret leaked, a limit was passed, no redirect was refused, or verify found problems.
 */
import { parseArgs } from 'node:util';
import { CI_RUN, FULL_RUN, runChaos } from './run-chaos.ts';
import { chaosProblems } from './verdict.ts';

const { values: args } = parseArgs({
  options: {
    // The CI-sized run (what test/integration/chaos.test.ts runs), e.g. with --keep to read its logs.
    ci: { type: 'boolean', default: false },
    seed: { type: 'string' },
    clips: { type: 'string' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    'no-bomb': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const base = args.ci ? CI_RUN : FULL_RUN;

// The run starts its own Redis (loopback, AOF), which it restarts mid-run.
const result = await runChaos({
  ...base,
  seed: args.seed ?? base.seed,
  clips: Number(args.clips ?? base.clips),
  workers: Number(args.workers ?? base.workers),
  concurrency: Number(args.concurrency ?? base.concurrency),
  bomb: base.bomb && !args['no-bomb'],
  keep: args.keep,
  onLog: (line) => process.stderr.write(`${line}\n`),
});
process.stderr.write(`${JSON.stringify({ verify: result.verify, ledger: result.ledger, checks: result.checks }, null, 1)}\n`);
const problems = chaosProblems(result);
for (const problem of problems) process.stderr.write(`chaos: PROBLEM: ${problem}\n`);
process.stdout.write(`${JSON.stringify(result.report)}\n`);
process.exitCode = problems.length > 0 ? 1 : 0;
