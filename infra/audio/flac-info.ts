import { open } from 'node:fs/promises';

/** What a FLAC file's STREAMINFO block says about the whole stream. */
export interface FlacInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Samples per channel; 0 means "unknown" in FLAC, and for ffmpeg-written files "no audio". */
  totalSamples: number;
  /** totalSamples / sampleRate (0 when totalSamples is 0). */
  durationSec: number;
}

/** `fLaC` + 4-byte block header + 34-byte STREAMINFO. */
export const FLAC_HEADER_BYTES = 42;

export class FlacHeaderError extends Error {
  override name = 'FlacHeaderError';
}

/**
 * Parses the start of a FLAC file. STREAMINFO must be the first metadata block (the format requires
 * it), so 42 bytes suffice and a one-hour file costs the same as a one-second one.
 */
export function parseFlacHeader(head: Uint8Array): FlacInfo {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length < 4 || bytes.toString('latin1', 0, 4) !== 'fLaC') {
    const shown = bytes.subarray(0, 4).toString('hex') || 'nothing';
    throw new FlacHeaderError(`not a FLAC file: expected magic "fLaC", found 0x${shown}`);
  }
  if (bytes.length < FLAC_HEADER_BYTES) {
    throw new FlacHeaderError(`truncated FLAC header: ${bytes.length} of ${FLAC_HEADER_BYTES} bytes`);
  }
  const blockType = bytes[4]! & 0x7f;
  const blockLength = bytes.readUIntBE(5, 3);
  if (blockType !== 0 || blockLength !== 34) {
    throw new FlacHeaderError(`invalid FLAC: first metadata block is type ${blockType} (${blockLength} bytes), not STREAMINFO`);
  }
  // STREAMINFO bit layout from byte 18: sample rate (20) | channels-1 (3) | bits-1 (5) | total samples (36).
  const b18 = bytes[18]!;
  const b19 = bytes[19]!;
  const b20 = bytes[20]!;
  const b21 = bytes[21]!;
  const sampleRate = (b18 << 12) | (b19 << 4) | (b20 >> 4);
  const channels = ((b20 >> 1) & 0x07) + 1;
  const bitsPerSample = (((b20 & 0x01) << 4) | (b21 >> 4)) + 1;
  const totalSamples = (b21 & 0x0f) * 2 ** 32 + bytes.readUInt32BE(22);
  if (sampleRate === 0) throw new FlacHeaderError('invalid FLAC: STREAMINFO sample rate is 0');
  if (bitsPerSample < 4) throw new FlacHeaderError(`invalid FLAC: ${bitsPerSample} bits per sample`);
  return { sampleRate, channels, bitsPerSample, totalSamples, durationSec: totalSamples / sampleRate };
}

/** Reads only the header bytes of `path` (never the audio) and parses them. */
export async function readFlacInfo(path: string): Promise<FlacInfo> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(FLAC_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, FLAC_HEADER_BYTES, 0);
    return parseFlacHeader(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
