/**
 * `npm run chaos [-- --seed s --clips n --workers n --keep]`: the full chaos run (issue 7). Progress
 * and the details go to stderr; the last line on stdout is the report. Exits 1 when anything is lost
 * or doubled, a secret leaked, a limit was passed, no redirect was refused, or verify found problems.
 */
import { parseArgs } from 'node:util';
import { ensureRedis } from '../../infra/redis/local-redis.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { FULL_RUN, runChaos } from './run-chaos.ts';
import { chaosProblems } from './verdict.ts';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: FULL_RUN.seed },
    clips: { type: 'string', default: String(FULL_RUN.clips) },
    workers: { type: 'string', default: String(FULL_RUN.workers) },
    concurrency: { type: 'string', default: String(FULL_RUN.concurrency) },
    'no-bomb': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

// Like the demo: the Redis at CLAPSET_REDIS_URL when one answers, else a private one on loopback.
const redis = await ensureRedis(configFromEnv().redisUrl, { allowStart: true });
try {
  const result = await runChaos({
    ...FULL_RUN,
    seed: args.seed,
    clips: Number(args.clips),
    workers: Number(args.workers),
    concurrency: Number(args.concurrency),
    bomb: !args['no-bomb'],
    keep: args.keep,
    redisUrl: redis.url,
    onLog: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`${JSON.stringify({ verify: result.verify, ledger: result.ledger, checks: result.checks }, null, 1)}\n`);
  const problems = chaosProblems(result);
  for (const problem of problems) process.stderr.write(`chaos: PROBLEM: ${problem}\n`);
  process.stdout.write(`${JSON.stringify(result.report)}\n`);
  process.exitCode = problems.length > 0 ? 1 : 0;
} finally {
  await redis.stop();
}
