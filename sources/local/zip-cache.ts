import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ZipArchive } from './zip-archive.ts';

interface Held {
  archive: Promise<ZipArchive>;
  users: number;
  timer: NodeJS.Timeout | undefined;
}

const held = new Map<string, Held>();

// Long enough to span the clips of one transcode job (each builds its own source), short enough
// that idle workers do not pin file descriptors.
const IDLE_CLOSE_MS = 5000;

/**
 * Shares one open `ZipArchive` per archive file (same path, size and mtime) across sources in this
 * process, so its central directory is read once per burst of work rather than once per clip. The
 * archive closes itself when nobody has held it for a few seconds; call `release()` when done.
 */
export async function acquireZip(file: string): Promise<{ archive: ZipArchive; release(): void }> {
  const path = resolve(file);
  const info = await stat(path);
  const key = `${path}\0${info.size}\0${info.mtimeMs}`;
  let entry = held.get(key);
  if (!entry) {
    const fresh: Held = { archive: ZipArchive.open(path), users: 0, timer: undefined };
    held.set(key, fresh);
    fresh.archive.catch(() => held.delete(key));
    entry = fresh;
  }
  const current = entry;
  clearTimeout(current.timer);
  current.users++;
  let archive: ZipArchive;
  try {
    archive = await current.archive;
  } catch (error) {
    current.users--;
    throw error;
  }
  let released = false;
  return {
    archive,
    release() {
      if (released) return;
      released = true;
      if (--current.users > 0) return;
      current.timer = setTimeout(() => {
        if (held.get(key) === current) held.delete(key);
        archive.close();
      }, IDLE_CLOSE_MS);
      current.timer.unref();
    },
  };
}
