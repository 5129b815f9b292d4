/**
 * `materialise()` for remote sources: download a URL into a fresh file in the job's work folder,
 * named by us (never by the server), with the extension of the URL when it is a plain one so ffmpeg
 * can pick a demuxer; the file is deleted on release.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { HttpClient } from './client.ts';

export interface WorkFile {
  path: string;
  bytes: number;
  release(): Promise<void>;
}

export async function downloadToWorkDir(
  client: HttpClient,
  url: string,
  workDir: string,
  options: { maxBytes: number; headers?: Record<string, string>; extension?: string },
): Promise<WorkFile> {
  await mkdir(workDir, { recursive: true });
  const path = join(workDir, `${randomUUID()}${options.extension ?? plainExtension(url)}`);
  const result = await client.download(url, path, { maxBytes: options.maxBytes, headers: options.headers });
  return { path, bytes: result.bytes, release: () => rm(path, { force: true }) };
}

function plainExtension(url: string): string {
  let ext: string;
  try {
    ext = extname(new URL(url).pathname);
  } catch {
    return '';
  }
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : '';
}
