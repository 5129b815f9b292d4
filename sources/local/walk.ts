import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hasAudioExtension, isSkippedName } from './audio-files.ts';
import { compareUtf8, isWithin } from './paths.ts';

export interface WalkedFile {
  /** Relative to the root, POSIX separators. */
  path: string;
  size: number;
}

interface DirItem {
  name: string;
  kind: 'file' | 'dir';
  /** Sort key: folders sort as `name/`, so a per-folder sort gives a globally sorted path order. */
  key: string;
}

// Stats run a few at a time per folder: a big flat folder is the common case, and one-by-one is slow.
const STAT_BATCH = 32;

/**
 * Every audio file under `root`, in byte order of the relative path, streamed folder by folder
 * (only one folder's listing is held at a time per depth). Hidden entries and `__MACOSX` are
 * skipped. Symlinked files are listed only when they resolve inside the root; symlinked folders are
 * never entered (they could loop or list the same files twice).
 */
export async function* walkAudioFiles(root: string): AsyncGenerator<WalkedFile> {
  const realRoot = await realpath(root);
  yield* walkFolder(realRoot, realRoot, '');
}

async function* walkFolder(realRoot: string, dir: string, relDir: string): AsyncGenerator<WalkedFile> {
  const dirents = await readdir(dir, { withFileTypes: true });
  const items: DirItem[] = [];
  for (const dirent of dirents) {
    if (isSkippedName(dirent.name)) continue;
    const kind = await classify(realRoot, join(dir, dirent.name), dirent);
    if (kind === 'dir') items.push({ name: dirent.name, kind, key: `${dirent.name}/` });
    else if (kind === 'file' && hasAudioExtension(dirent.name)) items.push({ name: dirent.name, kind, key: dirent.name });
  }
  items.sort((a, b) => compareUtf8(a.key, b.key));

  let files: DirItem[] = [];
  const flush = async function* (): AsyncGenerator<WalkedFile> {
    for (let i = 0; i < files.length; i += STAT_BATCH) {
      const batch = files.slice(i, i + STAT_BATCH);
      const sizes = await Promise.all(batch.map((f) => fileSize(join(dir, f.name))));
      for (const [j, f] of batch.entries()) {
        const size = sizes[j];
        if (size !== undefined) yield { path: relDir + f.name, size };
      }
    }
    files = [];
  };
  for (const item of items) {
    if (item.kind === 'file') {
      files.push(item);
      continue;
    }
    yield* flush();
    yield* walkFolder(realRoot, join(dir, item.name), `${relDir}${item.name}/`);
  }
  yield* flush();
}

async function classify(realRoot: string, full: string, dirent: Dirent): Promise<'file' | 'dir' | 'other'> {
  if (dirent.isFile()) return 'file';
  if (dirent.isDirectory()) return 'dir';
  if (dirent.isSymbolicLink()) {
    const target = await realpath(full).catch(() => null); // dangling or looping links are not files
    if (target === null || !isWithin(realRoot, target)) return 'other';
    return (await stat(target)).isFile() ? 'file' : 'other';
  }
  // Some file systems report no type in the listing; ask directly.
  if (!dirent.isFIFO() && !dirent.isSocket() && !dirent.isBlockDevice() && !dirent.isCharacterDevice()) {
    const info = await lstat(full);
    if (info.isFile()) return 'file';
    if (info.isDirectory()) return 'dir';
  }
  return 'other';
}

/** Size of a file, following a (checked) symlink; undefined when it vanished since the listing. */
async function fileSize(full: string): Promise<number | undefined> {
  try {
    return (await stat(full)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
