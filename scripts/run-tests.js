#!/usr/bin/env node
// `npm test`: makes sure what the tests need is here (installing Debian packages with apt-get when
// missing and this is root on Debian), makes sure Redis answers, then runs the suite with Node's own
// test runner over TypeScript (tsx loader). Usage: run-tests.js [unit|integration|FILE...]
// CLAPSET_TEST_NO_INSTALL=1 turns installing off: a missing prerequisite then fails by name.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Each prerequisite: how to tell it is here, and the Debian package that provides it. */
const PREREQUISITES = [
  { name: 'ffmpeg', here: () => onPath('ffmpeg'), apt: 'ffmpeg' },
  { name: 'redis-server', here: () => onPath('redis-server'), apt: 'redis-server' },
  { name: 'python3 (byte-exact reference writers in two tests)', here: () => onPath('python3'), apt: 'python3' },
  { name: 'aws (the dataset card\'s pipe:aws snippets)', here: () => onPath('aws'), apt: 'awscli' },
  { name: 'curl (how webdataset reads the dataset card\'s https URLs)', here: () => onPath('curl'), apt: 'curl' },
  { name: 'ip (iproute2: the multi-host test\'s network namespaces)', here: () => onPath('ip'), apt: 'iproute2' },
  { name: 'Chromium (the dashboard\'s browser tests)', here: () => existsSync(process.env.CLAPSET_CHROMIUM ?? '/usr/bin/chromium'), apt: 'chromium' },
];

// A single test still running after this long is stuck, not slow (the slowest take ~2 min on a loaded
// two-core machine): fail it by name instead of hanging CI.
const TEST_TIMEOUT_MS = 15 * 60 * 1000;

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return result.status === 0;
}

function ensurePrerequisites() {
  const missing = PREREQUISITES.filter((p) => !p.here());
  if (missing.length === 0) return;
  const canInstall = process.env.CLAPSET_TEST_NO_INSTALL !== '1' && process.getuid?.() === 0 && onPath('apt-get');
  if (canInstall) {
    const packages = missing.map((p) => p.apt);
    console.log(`tests: installing ${packages.join(' ')} with apt-get`);
    if (run('apt-get', ['update', '-qq']) && run('apt-get', ['install', '-y', '-qq', ...packages])) return ensurePrerequisites();
  }
  const list = missing.map((p) => `  - ${p.name}: apt-get install ${p.apt}`).join('\n');
  console.error(`tests: missing prerequisites (install them, or run npm test as root on Debian to have them installed):\n${list}`);
  process.exit(1);
}

function ensureRedis() {
  const url = new URL(process.env.CLAPSET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const ping = () => spawnSync('redis-cli', ['-h', url.hostname, '-p', url.port || '6379', 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
  if (ping()) return;
  if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
    console.error(`tests: Redis at ${url.host} does not answer`);
    process.exit(1);
  }
  console.log(`tests: starting redis-server on 127.0.0.1:${url.port || 6379} (no persistence)`);
  run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', url.port || '6379', '--save', '', '--appendonly', 'no']);
  for (let i = 0; i < 50 && !ping(); i++) spawnSync('sleep', ['0.1']);
  if (!ping()) {
    console.error('tests: redis-server did not start');
    process.exit(1);
  }
}

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

ensurePrerequisites();
ensureRedis();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
  // The CLI the tests spawn runs the sources even where a build (dist/) exists.
  { stdio: 'inherit', env: { ...process.env, CLAPSET_FROM_SOURCE: '1' } },
);
process.exit(result.status ?? 1);
