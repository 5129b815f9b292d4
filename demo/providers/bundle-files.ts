/**
 * What a purchased sound-effect bundle looks like on disk, made for tests and the demo: nested
 * folders of real 24-bit/96 kHz stereo WAVs and AIFFs (short, so ffmpeg makes them fast) whose
 * names carry spaces, unicode, brackets and several dots, plus the files such bundles ship that are
 * not audio. Also a minimal zip writer, because tests need entry names no zip library will write
 * (`../evil.wav`). No test-framework imports: the demo uses this too.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { makeTone, type ToneFormat } from './tone.ts';

export interface BundleFile {
  /** POSIX path inside the bundle. */
  path: string;
  format: ToneFormat;
  seconds: number;
}

/** The audio of the fixture bundle, in the byte order a crawl must yield it. */
export const BUNDLE_AUDIO: readonly BundleFile[] = [
  { path: 'Ambience/Forest_Birds Morning.wav', format: 'wav', seconds: 0.5 },
  { path: 'Ambience/Rain.on.Roof.v2.final.wav', format: 'wav', seconds: 0.6 },
  { path: 'Foley/Café Chairs – Scrape.wav', format: 'wav', seconds: 0.5 },
  { path: 'Foley/Door Slam 01.aiff', format: 'aiff', seconds: 0.7 },
  { path: 'Foley/Footsteps/Gravel_Walk_Slow.WAV', format: 'wav', seconds: 0.5 },
  { path: 'Weapons & Impacts/Impact [Metal] #3 (50%).wav', format: 'wav', seconds: 0.5 },
  { path: 'Whoosh_Fast.aif', format: 'aiff', seconds: 0.5 },
  { path: '日本語の音.wav', format: 'wav', seconds: 0.5 },
];

/** Files a bundle ships that are not clips: documents, hidden and AppleDouble files. */
export const BUNDLE_OTHER: Readonly<Record<string, string>> = {
  'Licence Agreement.pdf': '%PDF-1.4 not audio\n',
  'Foley/readme.txt': 'Recorded in 2023.\n',
  '.DS_Store': 'Bud1',
  'Ambience/._Forest_Birds Morning.wav': 'AppleDouble, not audio',
};

/** Writes the fixture bundle under `dir` (24-bit/96 kHz stereo audio); returns the files' bytes by path. */
export async function makeBundleTree(dir: string): Promise<Map<string, Buffer>> {
  const written = new Map<string, Buffer>();
  await Promise.all(
    BUNDLE_AUDIO.map(async (file) => {
      const full = join(dir, file.path);
      await mkdir(dirname(full), { recursive: true });
      await makeTone(full, { seconds: file.seconds, sampleRate: 96000, channels: 2, bitDepth: 24, format: file.format });
      written.set(file.path, await readFile(full));
    }),
  );
  for (const [path, text] of Object.entries(BUNDLE_OTHER)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return written;
}

export interface ZipInput {
  /** Stored exactly as given (UTF-8), so hostile names survive. */
  name: string;
  data: Buffer;
  /** `store` (default: what bundles of PCM audio mostly use) or `deflate`. */
  method?: 'store' | 'deflate';
}

/**
 * A plain (non-zip64) zip archive of these entries, in order, with the UTF-8 name flag set. Folder
 * entries are not written; unzip tools do not need them.
 */
export function buildZip(entries: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const method = entry.method === 'deflate' ? 8 : 0;
    const body = method === 8 ? deflateRawSync(entry.data) : entry.data;
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x5821, 12); // date: 2024-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x031e, 4); // made by: Unix, 3.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x5821, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * The fixture bundle as a zip the way vendors ship it: everything under one top folder, audio
 * stored, one entry deflated, plus `__MACOSX` litter and, with `hostile`, an entry that escapes.
 */
export function bundleZipEntries(files: Map<string, Buffer>, options: { top?: string; hostile?: boolean } = {}): ZipInput[] {
  const top = options.top === undefined ? '' : `${options.top}/`;
  const entries: ZipInput[] = [];
  for (const [i, file] of BUNDLE_AUDIO.entries()) {
    const data = files.get(file.path);
    if (data === undefined) throw new Error(`bundleZipEntries: no bytes for ${file.path}`);
    entries.push({ name: top + file.path, data, method: i === 1 ? 'deflate' : 'store' });
  }
  entries.push({ name: `${top}Licence Agreement.pdf`, data: Buffer.from('%PDF-1.4 not audio\n') });
  entries.push({ name: `__MACOSX/${top}._Whoosh_Fast.aif`, data: Buffer.from('AppleDouble') });
  if (options.hostile) {
    const evil = files.get(BUNDLE_AUDIO[0]!.path)!;
    entries.push({ name: '../evil.wav', data: evil }, { name: `${top}../../escape/evil2.wav`, data: evil });
  }
  return entries;
}
