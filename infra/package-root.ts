import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's folder (package.json, bin/, dashboard/public/), found the same from the
 * sources (infra/) and from the compiled build (dist/infra/), whose relative paths differ by a level.
 */
function findPackageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot();
