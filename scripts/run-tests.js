#!/usr/bin/env node
// Runs the suite with Node's own test runner over TypeScript (tsx loader). Usage: run-tests.js [unit|integration|FILE...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const suites = ['unit', 'integration'];
const args = process.argv.slice(2);
const chosen = args.length === 0 ? suites : args;
const files = chosen.flatMap((arg) =>
  suites.includes(arg)
    ? readdirSync(join('test', arg))
        .filter((name) => name.endsWith('.test.ts'))
        .sort()
        .map((name) => join('test', arg, name))
    : [arg],
);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, CLAPSET_TEST: '1' } },
);
process.exit(result.status ?? 1);
