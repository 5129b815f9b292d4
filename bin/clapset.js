#!/usr/bin/env node
// Runs the compiled build (dist/, from `npm run build`; what the images ship) when it exists and no
// source file is newer than it, else the TypeScript sources through tsx's loader, so a checkout
// runs without a build step and an edit is never shadowed by a stale build. CLAPSET_FROM_SOURCE=1
// always runs the sources (the tests do). `--version` and `--help` are answered without loading the
// CLI (a command's module loads its whole dependency tree): the version from package.json, the help
// of the program and of each command from the texts `npm run build` saved beside the build.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist', 'cli', 'main.js');
const savedHelp = join(root, 'dist', 'help.json');
// The folders tsconfig.build.json compiles.
const SOURCES = ['cli', 'dashboard', 'demo', 'crawl', 'dataset', 'search', 'workers', 'sources', 'infra', 'schemas'];

const args = process.argv.slice(2);
const only = (...flags) => args.length === 1 && flags.includes(args[0]);
if (only('--version', '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
  process.exit(0);
}

// The lockfile pins an AWS SDK that supports Node 20; its notice about later releases needing Node 22
// would otherwise open every command's output (the README says so once). An operator's own setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** True when some .ts file under the source folders was modified after `builtAt` (ms). */
function sourcesNewerThan(builtAt) {
  const pending = SOURCES.map((name) => join(root, name)).filter((dir) => existsSync(dir));
  while (pending.length > 0) {
    const dir = pending.pop();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > builtAt) return true;
    }
  }
  return false;
}

/** `clapset [command…] --help` as the build saved it; undefined for anything else (the CLI answers). */
function savedHelpFor(argv) {
  const last = argv.at(-1);
  if ((last !== '--help' && last !== '-h') || !existsSync(savedHelp)) return undefined;
  return JSON.parse(readFileSync(savedHelp, 'utf8'))[argv.slice(0, -1).join(' ')];
}

const useBuild = process.env.CLAPSET_FROM_SOURCE !== '1' && existsSync(compiled) && !sourcesNewerThan(statSync(compiled).mtimeMs);
const help = useBuild ? savedHelpFor(args) : undefined;
if (help !== undefined) {
  process.stdout.write(help);
} else if (useBuild) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
