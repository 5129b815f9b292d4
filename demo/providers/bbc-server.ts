/**
 * BBC Sound Effects stand-ins: an index/API host serving `BBCSoundEffects.csv` (with the real file's
 * mess: a BOM, CRLF line ends, every field quoted, commas and doubled quotes inside descriptions,
 * non-ASCII, empty and colon-nested categories, a row without a location) and the undocumented
 * `POST /api/sfx/search` (`{total, results[]}`, `fileSizes: {wavFileSize, mp3FileSize}`); and a
 * separate media host serving real WAVs at `/wav/{location}` (Range requests answered 206), with
 * faults on demand (truncated, stalled, X-Robots-Tag, 404, redirects) and `drift`: the index or the
 * search answering as a moved or broken service would (sign-in page, 404, renamed header, empty).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AudioAssets, type AudioOverride, type FileFault, type RunningServer, makeAudioAssets, takeFault, readBody, redirect, sendFile, sendJson, sendText, SlidingWindowCounter, startHttpServer, closeFixture } from './common.ts';

export interface BbcRow {
  location: string;
  description: string;
  secs: string;
  category: string;
  CDNumber: string;
  CDName: string;
  tracknum: string;
}

/** How the index and search misbehave when `faults.drift` is set (first-page and probe tests). */
export type BbcDrift = 'signin' | 'missing' | 'renamed' | 'empty';

export interface BbcFixture {
  index: RunningServer;
  media: RunningServer;
  /** Full URL of the CSV index. */
  csvUrl: string;
  csvText: string;
  /** `<media origin>/wav/` */
  mediaBase: string;
  searchApi: string;
  rows: BbcRow[];
  assets: AudioAssets;
  stats: {
    csv: number;
    searches: number;
    wavs: number;
    searchBodies: unknown[];
    /** Every request to either host, against `throttle` when one is set (one provider, one limit). */
    requests: SlidingWindowCounter;
    throttled: number;
  };
  /** Mutable on purpose: tests arm faults mid-run. `next429`/`next5xx` apply to the index host. */
  faults: { wavs: Map<string, FileFault>; next5xx: number; next429: number; drift: BbcDrift | null };
  close(): Promise<void>;
}

export interface BbcFixtureOptions {
  /** Offsets at or past this answer no results (public clients report the real API caps near 900). Default: none. */
  searchOffsetCap?: number;
  rows?: BbcRow[];
  wavSeconds?: number;
  /** At most `limit` requests to the index and media hosts together in any `windowMs`; 429 beyond it. Default: none. */
  throttle?: { limit: number; windowMs: number };
  /** The file to serve for a location instead of the shared WAV (undefined: the shared one). */
  wavAudio?: (location: string) => AudioOverride | undefined;
  /** The index as bytes, from the CSV text made of `rows` (e.g. to put invalid UTF-8 into it). */
  csvBytes?: (csvText: string) => Buffer;
}

export function defaultBbcRows(count = 24): BbcRow[] {
  const rows: BbcRow[] = [
    { location: '07076051.wav', description: 'Two-stroke petrol engine driving small elevator, start, run, stop.', secs: '194', category: 'Engines: Petrol', CDNumber: 'EC117D', CDName: 'Diesel & Petrol Engines', tracknum: '4' },
    { location: '07041085.wav', description: 'Crowd at football match, "Come on you Reds!" chant, 1978.', secs: '87', category: 'Sport: Football', CDNumber: 'BBC SFX 019', CDName: 'Football, Crowds', tracknum: '12' },
    { location: '07002214.wav', description: 'Café in Montmartre — cups, saucers & murmured conversation (Français).', secs: '301', category: '', CDNumber: 'EC54C', CDName: 'Paris Atmospheres', tracknum: '1' },
    { location: '07063099.wav', description: 'Zürich tram: bell, doors, departure; recorded 1991.', secs: '45', category: 'Transport: Trams: Europe', CDNumber: 'EC6T', CDName: 'Trams', tracknum: '7' },
    { location: '', description: 'Row with no file (as found in the real index).', secs: '', category: 'Miscellaneous', CDNumber: '', CDName: '', tracknum: '' },
  ];
  const things = ['Dog barking, distant', 'Rain on window', 'Clock ticking, large "grandfather" clock', 'Birdsong, dawn chorus', 'Typewriter, manual'];
  for (let i = rows.length; i < count; i++) {
    rows.push({
      location: `070${String(10000 + i * 137).padStart(5, '0')}.wav`,
      description: `${things[i % things.length]}, take ${i}.`,
      secs: String(5 + ((i * 17) % 400)),
      category: ['Animals: Dogs', 'Weather', 'Household: Clocks', 'Nature: Birds', 'Office'][i % 5]!,
      CDNumber: `EC${i}`,
      CDName: ['Animals', 'Weather', 'Clocks', 'Birds', 'Office'][i % 5]!,
      tracknum: String(i % 20),
    });
  }
  return rows;
}

/** The index as the BBC publishes it: BOM, every field quoted, quotes doubled, CRLF. */
export function bbcCsv(rows: BbcRow[]): string {
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  const header = ['location', 'description', 'secs', 'category', 'CDNumber', 'CDName', 'tracknum'] as const;
  const lines = [header.map(quote).join(','), ...rows.map((row) => header.map((h) => quote(row[h])).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

export async function startBbcFixture(options: BbcFixtureOptions = {}): Promise<BbcFixture> {
  const rows = options.rows ?? defaultBbcRows();
  const csvText = bbcCsv(rows);
  const assets = await makeAudioAssets({ 'sfx.wav': { seconds: options.wavSeconds ?? 5, sampleRate: 48000, channels: 1, format: 'wav' } });
  const csvBody = options.csvBytes?.(csvText);
  const stats: BbcFixture['stats'] = {
    csv: 0,
    searches: 0,
    wavs: 0,
    searchBodies: [],
    requests: new SlidingWindowCounter(options.throttle?.windowMs ?? 1000, options.throttle?.limit),
    throttled: 0,
  };
  const faults: BbcFixture['faults'] = { wavs: new Map(), next5xx: 0, next429: 0, drift: null };
  const listed = rows.filter((r) => r.location !== '');
  const throttled = (res: ServerResponse): boolean => {
    if (stats.requests.hit() <= (options.throttle?.limit ?? Infinity)) return false;
    stats.throttled++;
    sendText(res, 429, 'Too Many Requests');
    return true;
  };

  const indexHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (throttled(res)) return;
    if (faults.next429 > 0) {
      faults.next429--;
      return sendText(res, 429, 'Too Many Requests');
    }
    if (faults.next5xx > 0) {
      faults.next5xx--;
      return sendText(res, 502, '<html><body>502 Bad Gateway</body></html>');
    }
    if (faults.drift !== null && (url.pathname === '/assets/BBCSoundEffects.csv' || url.pathname === '/api/sfx/search')) {
      const csv = url.pathname.endsWith('.csv');
      switch (faults.drift) {
        case 'signin':
          return sendText(res, 200, '<!DOCTYPE html><html><head><title>Sign in - BBC</title></head><body><form action="/signin">Sign in to continue</form></body></html>');
        case 'missing':
          return sendText(res, 404, '<html><body>Not Found</body></html>');
        case 'renamed':
          return csv
            ? sendText(res, 200, '"file","desc","secs"\r\n"07076051.wav","Engine","194"\r\n', { 'content-type': 'text/csv' })
            : sendJson(res, 200, { total: listed.length, results: listed.slice(0, 3).map((r) => ({ soundId: r.location, text: r.description })) });
        case 'empty':
          return csv ? sendText(res, 200, `${bbcCsv([]).trimEnd()}\r\n`, { 'content-type': 'text/csv' }) : sendJson(res, 200, { total: 0, results: [] });
      }
    }
    if (url.pathname === '/assets/BBCSoundEffects.csv') {
      stats.csv++;
      if (csvBody) {
        res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': csvBody.length });
        return void res.end(csvBody);
      }
      return sendText(res, 200, csvText, { 'content-type': 'text/csv; charset=utf-8' });
    }
    if (url.pathname === '/api/sfx/search' && req.method === 'POST') {
      stats.searches++;
      let body: { criteria?: { from?: number; size?: number } };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        return sendJson(res, 400, { message: 'invalid JSON' });
      }
      stats.searchBodies.push(body);
      const from = body.criteria?.from ?? 0;
      const size = body.criteria?.size ?? 10;
      const results = (from >= (options.searchOffsetCap ?? Infinity) ? [] : listed.slice(from, from + size)).map((row) => ({
        id: row.location.replace(/\.wav$/, ''),
        description: row.description,
        duration: Number(row.secs) * 1000,
        tags: row.description.toLowerCase().split(/[^a-zà-ÿ]+/).filter((w) => w.length > 3).slice(0, 3),
        categories: row.category ? row.category.split(':').map((c) => ({ className: c.trim() })) : [],
        additionalMetadata: { recordist: 'BBC', locationText: null, habitat: null, cdName: row.CDName },
        recordedDate: null,
        fileSizes: { wavFileSize: Number(row.secs) * 48000 * 2 + 44, mp3FileSize: Number(row.secs) * 16000 },
        technicalMetadata: { sampleRate: 48000, channels: 1 },
      }));
      return sendJson(res, 200, { total: listed.length, results });
    }
    sendJson(res, 404, { message: 'not found' });
  };

  const mediaHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (throttled(res)) return;
    const match = /^\/wav\/(.+)$/.exec(url.pathname);
    const location = match ? decodeURIComponent(match[1]!) : null;
    if (location === null || !listed.some((r) => r.location === location)) return sendText(res, 404, 'Not Found');
    stats.wavs++;
    const fault = takeFault(faults.wavs, location);
    if (fault?.redirectTo) return redirect(res, fault.redirectTo);
    if (fault?.status) return sendText(res, fault.status, 'fault');
    const custom = options.wavAudio?.(location);
    await sendFile(res, custom?.path ?? assets.files['sfx.wav']!.path, {
      contentType: custom?.contentType ?? 'audio/wav',
      range: req.headers.range,
      ...fault,
      headers: { ...custom?.headers, ...fault?.headers, ...(fault?.robots ? { 'x-robots-tag': fault.robots } : {}) },
    });
  };

  const index = await startHttpServer(indexHandler);
  const media = await startHttpServer(mediaHandler);
  return {
    index,
    media,
    csvUrl: `${index.origin}/assets/BBCSoundEffects.csv`,
    csvText,
    mediaBase: `${media.origin}/wav/`,
    searchApi: `${index.origin}/api/sfx/search`,
    rows,
    assets,
    stats,
    faults,
    close: closeFixture([index, media], assets),
  };
}
