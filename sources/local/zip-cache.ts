import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SharedHandles } from '../../infra/shared-handles.ts';
import { ZipArchive } from './zip-archive.ts';

// Long enough to span the clips of one transcode job (each builds its own source), short enough
// that idle workers do not pin file descriptors.
const IDLE_CLOSE_MS = 5000;

const held = new SharedHandles<ZipArchive>((archive) => archive.close(), IDLE_CLOSE_MS);

/**
 * Shares one open `ZipArchive` per archive file (same path, size and mtime) across sources in this
 * process, so its central directory is read once per burst of work rather than once per clip. The
 * archive closes itself when nobody has held it for a few seconds; call `release()` when done.
 */
export async function acquireZip(file: string): Promise<{ archive: ZipArchive; release(): void }> {
  const path = resolve(file);
  const info = await stat(path);
  const key = `${path}\0${info.size}\0${info.mtimeMs}`;
  const handle = await held.acquire(key, () => ZipArchive.open(path));
  return { archive: handle.value, release: handle.release };
}
