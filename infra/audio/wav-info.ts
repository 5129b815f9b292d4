import { open } from 'node:fs/promises';

/** Chunks before `data` (fmt, LIST, bext, …) nearly always fit here; a header that does not is left unjudged. */
const WAV_HEAD_BYTES = 64 * 1024;

/**
 * Sizes streaming writers put in the `data` chunk when they cannot seek back: 0, 0xFFFFFFFF, or
 * "as big as possible" values near 2 GiB. They declare nothing.
 */
function isPlaceholderSize(size: number): boolean {
  return size === 0 || size >= 0x7fff_f000;
}

/**
 * The duration a RIFF/WAVE file's header declares: `data` chunk bytes ÷ the `fmt ` chunk's byte rate.
 * ffmpeg estimates a WAV's duration from the file size instead, so a download cut short "declares"
 * exactly what it decodes; this is what the header promised. Null when `head` is not a WAVE header,
 * the chunks before `data` do not fit in it, or the size is a streaming placeholder.
 */
export function wavDeclaredDuration(head: Uint8Array): number | null {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length < 12 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') return null;
  let byteRate: number | null = null;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 20 <= bytes.length) byteRate = bytes.readUInt32LE(offset + 8 + 8);
    if (id === 'data') return byteRate && !isPlaceholderSize(size) ? size / byteRate : null;
    offset += 8 + size + (size % 2); // chunks are padded to an even length
  }
  return null;
}

/** `wavDeclaredDuration` of a file's first 64 KiB. */
export async function readWavDeclaredDuration(path: string): Promise<number | null> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(WAV_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return wavDeclaredDuration(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
