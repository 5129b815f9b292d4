import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// A package laid out like a checkout with a build: the real bin/clapset.js, and stand-in entry
// points that say which one ran.
const pkg = mkdtempSync(join(tmpdir(), 'clapset-launcher-'));
mkdirSync(join(pkg, 'bin'));
mkdirSync(join(pkg, 'cli'));
mkdirSync(join(pkg, 'dist', 'cli'), { recursive: true });
copyFileSync(join(ROOT, 'bin', 'clapset.js'), join(pkg, 'bin', 'clapset.js'));
symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'clapset', version: '9.8.7', type: 'module' }));
writeFileSync(join(pkg, 'cli', 'main.ts'), "const from: string = 'sources'; console.log(from, process.argv.slice(2).join(' '));\n");
writeFileSync(join(pkg, 'dist', 'cli', 'main.js'), "console.log('build', process.argv.slice(2).join(' '));\n");
writeFileSync(join(pkg, 'dist', 'help.json'), JSON.stringify({ '': 'Usage: clapset (saved by the build)\n', crawl: 'Usage: clapset crawl (saved)\n', 'models pull': 'Usage: clapset models pull (saved)\n' }));
const past = new Date(Date.now() - 60_000);
utimesSync(join(pkg, 'cli', 'main.ts'), past, past);

after(() => rmSync(pkg, { recursive: true, force: true }));

function clapset(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const { CLAPSET_FROM_SOURCE: _ignored, ...rest } = process.env;
  const result = spawnSync(process.execPath, [join(pkg, 'bin', 'clapset.js'), ...args], { encoding: 'utf8', env: { ...rest, ...env } });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test('bin/clapset.js runs the build while no source is newer, the sources otherwise or when CLAPSET_FROM_SOURCE=1', () => {
  assert.equal(clapset(['status', '--json']), 'build status --json\n');
  assert.equal(clapset(['status'], { CLAPSET_FROM_SOURCE: '1' }), 'sources status\n');
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(pkg, 'cli', 'main.ts'), later, later); // an edit after the build
  try {
    assert.equal(clapset(['status']), 'sources status\n');
    assert.equal(clapset(['--help']), 'sources --help\n', 'a stale build\'s saved help is not served either');
  } finally {
    utimesSync(join(pkg, 'cli', 'main.ts'), past, past);
  }
});

test('--version comes from package.json and each --help from the build\'s saved texts, without loading the CLI', () => {
  assert.equal(clapset(['--version']), '9.8.7\n');
  assert.equal(clapset(['-V']), '9.8.7\n');
  assert.equal(clapset(['--help']), 'Usage: clapset (saved by the build)\n');
  assert.equal(clapset(['crawl', '--help']), 'Usage: clapset crawl (saved)\n');
  assert.equal(clapset(['models', 'pull', '-h']), 'Usage: clapset models pull (saved)\n');
  assert.equal(clapset(['status', '--help']), 'build status --help\n', 'a command the build saved no help for is the CLI\'s');
  assert.equal(clapset(['crawl', 'local', '--help']), 'build crawl local --help\n', 'so is a command line with arguments');
});
