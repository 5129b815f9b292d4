/**
 * The broken files a crawl turns up, for tests (good audio comes from demo/providers/tone.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

export async function makeZeroByte(path: string): Promise<void> {
  await writeFile(path, '');
}

/** Copies the first `fraction` (0–1) of `srcPath`'s bytes: a download cut short. */
export async function makeTruncated(srcPath: string, dstPath: string, fraction: number): Promise<number> {
  const keep = Math.floor((await stat(srcPath)).size * fraction);
  if (keep === 0) await writeFile(dstPath, '');
  else await pipeline(createReadStream(srcPath, { start: 0, end: keep - 1 }), createWriteStream(dstPath));
  return keep;
}

/** A text file with an audio extension, as scraped from an error page. */
export async function makeTextAsWav(path: string, text = '<html><body>404 Not Found</body></html>\n'): Promise<void> {
  await writeFile(path, text);
}
