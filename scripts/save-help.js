// `npm run build`'s last step: saves the help of the program and of every command and subcommand,
// as the compiled CLI prints it, to dist/help.json, so bin/clapset.js answers `clapset [command…]
// --help` without loading the CLI (a command's module loads its whole dependency tree: BullMQ, the
// AWS SDK, ONNX Runtime…). Commands are found by walking the help's own "Commands:" sections.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const main = join(dist, 'cli', 'main.js');

/** The command names listed under "Commands:" (commander's own `help` excluded). */
function commandsIn(help) {
  const lines = help.split('\n');
  const start = lines.indexOf('Commands:');
  if (start < 0) return [];
  const names = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const name = /^ {2}([a-z][\w-]*)/.exec(line)?.[1];
    if (name && name !== 'help') names.push(name);
  }
  return names;
}

const saved = {};
const pending = [[]];
while (pending.length > 0) {
  const path = pending.shift();
  const help = execFileSync(process.execPath, [main, ...path, '--help'], { encoding: 'utf8' });
  saved[path.join(' ')] = help;
  for (const name of commandsIn(help)) pending.push([...path, name]);
}
writeFileSync(join(dist, 'help.json'), `${JSON.stringify(saved, null, 1)}\n`);
process.stdout.write(`saved the help of ${Object.keys(saved).length - 1} commands to dist/help.json\n`);
