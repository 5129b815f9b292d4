/**
 * A Freesound APIv2 stand-in with the real service's wire format and quirks (../shared/reference/
 * providers.md): Token auth (header or `?token=`), 401 `{"detail"}` without it; a sliding-window
 * throttle answering 429 with DRF's detail and NO Retry-After; `null` entries in `results`;
 * page_size clamped to 150; `next` links shaped `…/search/?&query=…` without the token and with `+`
 * left unescaped (as the real ones: a client that follows them reads `+` as a space); 404 past the
 * last page (or ≤ 0); an empty query without a filter lists every sound (apiv2's current search);
 * Solr-ish range filters and `license:"<name>"`; `fields` projection; previews (real MP3/OGG) on a
 * second host shaped like cdn.freesound.org (`/previews/<id//1000>/<id>_<user>-hq.mp3`); OAuth2
 * refresh and original downloads with a Bearer token. Faults on demand: 429 storms, 5xx bursts,
 * slow/stalled/truncated previews, preview redirects, X-Robots-Tag on previews, and `drift` — the
 * search answering as a broken or changed service would (login wall, challenge, 404, HTML, renamed
 * fields, nothing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AudioAssets, type AudioOverride, type FileFault, type RunningServer, CHALLENGE_PAGE, makeAudioAssets, takeFault, readBody, redirect, sendFile, sendJson, sendText, SlidingWindowCounter, startHttpServer, closeFixture } from './common.ts';

/** How the search endpoint misbehaves when `faults.drift` is set (first-page and probe tests). */
export type FreesoundDrift = 'login' | 'challenge' | 'missing' | 'html' | 'renamed' | 'empty';

export const LICENSE_URLS = {
  cc0: 'http://creativecommons.org/publicdomain/zero/1.0/',
  'cc-by-4.0': 'https://creativecommons.org/licenses/by/4.0/',
  'cc-by-3.0': 'http://creativecommons.org/licenses/by/3.0/',
  'cc-by-nc-4.0': 'https://creativecommons.org/licenses/by-nc/4.0/',
  'cc-by-nc-3.0': 'http://creativecommons.org/licenses/by-nc/3.0/',
  'sampling+': 'http://creativecommons.org/licenses/sampling+/1.0/',
} as const;

/** The names Solr's `license:` filter matches (apiv2 docs: "Attribution", "Creative Commons 0", …). */
const LICENSE_NAMES: Record<string, string> = {
  [LICENSE_URLS.cc0]: 'Creative Commons 0',
  [LICENSE_URLS['cc-by-4.0']]: 'Attribution',
  [LICENSE_URLS['cc-by-3.0']]: 'Attribution',
  [LICENSE_URLS['cc-by-nc-4.0']]: 'Attribution NonCommercial',
  [LICENSE_URLS['cc-by-nc-3.0']]: 'Attribution NonCommercial',
  [LICENSE_URLS['sampling+']]: 'Sampling+',
};

export interface FixtureSound {
  id: number;
  name: string;
  tags: string[];
  description: string;
  license: string;
  username: string;
  userId: number;
  duration: number;
  samplerate: number;
  channels: number;
  type: string;
  filesize: number;
  created: string;
  gen_ai_preference: string;
  /** Listed as `null` in search results (deleted after indexing), as the real API does. */
  deleted?: boolean;
}

export type PreviewFault = FileFault;

export interface FreesoundFixtureOptions {
  sounds?: FixtureSound[];
  apiKey?: string;
  /** The throttle: at most `limit` API requests in any `windowMs` (Freesound: 60 per 60 s). */
  throttle?: { limit: number; windowMs: number };
  /** Daily quota, counted over the server's lifetime (Freesound: 2,000). */
  dailyLimit?: number;
  oauth?: { clientId: string; clientSecret: string; refreshToken: string; accessTokens?: string[] };
  /** The CDN's throttle on previews (counted in `stats.media`; 429 beyond it). Default: none. */
  mediaThrottle?: { limit: number; windowMs: number };
  /** The file to serve as a sound's preview instead of the shared asset (undefined: the shared one). */
  previewAudio?: (id: number, asset: string) => AudioOverride | undefined;
}

export interface FreesoundFixture extends RunningServer {
  /** `<origin>/apiv2/` */
  apiBase: string;
  /** The preview CDN (its own host, as cdn.freesound.org is). */
  cdn: RunningServer;
  /** `cdn.host`: what a spec's `mediaHosts` names. */
  mediaHost: string;
  apiKey: string;
  sounds: FixtureSound[];
  assets: AudioAssets;
  stats: {
    api: SlidingWindowCounter;
    /** Preview requests (the CDN), against `mediaThrottle` when one is set. */
    media: SlidingWindowCounter;
    throttled: number;
    searches: number;
    previews: number;
    downloads: number;
    refreshes: number;
    unauthorized: number;
    /** Authorization header values / token params seen on API requests (tests check they are right). */
    authSeen: Set<string>;
  };
  /** Mutable on purpose: tests arm faults mid-run. */
  faults: {
    /** The next N API requests answer 429 (a storm), on top of the throttle. */
    next429: number;
    /** The next N API requests answer this 5xx. */
    next5xx: number;
    status5xx: number;
    previews: Map<number, PreviewFault>;
    drift: FreesoundDrift | null;
  };
  oauth: { validAccessTokens: Set<string> };
  close(): Promise<void>;
}

const DEFAULT_FIELDS = ['id', 'name', 'tags', 'username', 'license'];

/** A realistic, deterministic catalogue: HTML in descriptions, unicode, commas and quotes, nulls. */
export function defaultFreesoundSounds(count = 40): FixtureSound[] {
  const special: Omit<FixtureSound, 'id' | 'userId' | 'filesize' | 'created'>[] = [
    { name: 'Door_Slam_01.wav', tags: ['door', 'slam', 'wood', 'foley'], description: 'A heavy wooden door slams shut. Recorded in an old farmhouse with a Zoom H4n.', license: LICENSE_URLS.cc0, username: 'farmfoley', duration: 2.4, samplerate: 44100, channels: 2, type: 'wav', gen_ai_preference: 'no-additional-preferences' },
    { name: 'rain, "heavy" on tin roof.aiff', tags: ['rain', 'roof', 'tin', 'field-recording'], description: 'Heavy rain on a tin roof, "very" loud; recorded at night.\r\nSecond sentence here.', license: LICENSE_URLS['cc-by-4.0'], username: 'Rainy_Days', duration: 61.2, samplerate: 48000, channels: 2, type: 'aiff', gen_ai_preference: 'open-source-models' },
    { name: 'Café ambience – Paris «matin».flac', tags: ['café', 'ambience', 'paris', 'crowd'], description: 'Ambiance de café à Paris, très animée! Tasses, cuillères et conversations.', license: LICENSE_URLS['cc-by-nc-4.0'], username: 'léa_sons', duration: 95.5, samplerate: 96000, channels: 2, type: 'flac', gen_ai_preference: 'no-additional-preferences' },
    { name: 'synth_pad.mp3', tags: ['synth', 'pad'], description: 'Made with <a href="https://example.org/vst" rel="nofollow">my VST</a>. Free to use.', license: LICENSE_URLS['sampling+'], username: 'padmaker', duration: 12, samplerate: 44100, channels: 2, type: 'mp3', gen_ai_preference: 'no-additional-preferences' },
    { name: 'Thunder roll', tags: ['thunder', 'storm'], description: '', license: LICENSE_URLS['cc-by-3.0'], username: 'stormchaser', duration: 20.25, samplerate: 44100, channels: 1, type: 'wav', gen_ai_preference: 'no-gen-ai' },
    { name: 'bird.song.final.mp3', tags: ['bird', 'song'], description: 'Blackbird singing at dawn (3.5 kHz peak). Berlin, spring 2019', license: LICENSE_URLS['cc-by-nc-3.0'], username: 'amsel', duration: 33, samplerate: 22050, channels: 1, type: 'mp3', gen_ai_preference: 'noncommercial-open-source-models' },
    { name: 'long_drone.wav', tags: ['drone'], description: 'A very long drone.', license: LICENSE_URLS.cc0, username: 'droner', duration: 600, samplerate: 44100, channels: 2, type: 'wav', gen_ai_preference: 'no-additional-preferences' },
    { name: 'old_phone_8k.wav', tags: ['phone', 'lofi'], description: 'Telephone line, 8 kHz.', license: LICENSE_URLS.cc0, username: 'lofi', duration: 4, samplerate: 8000, channels: 1, type: 'wav', gen_ai_preference: 'no-additional-preferences' },
  ];
  const sounds: FixtureSound[] = [];
  for (let i = 0; i < count; i++) {
    const base = special[i] ?? {
      name: `${['Footsteps gravel', 'Kettle boil', 'Car pass by', 'Wind chimes', 'Keyboard typing'][i % 5]} ${String(i).padStart(2, '0')}.wav`,
      tags: ['generated', ['steps', 'kettle', 'car', 'chimes', 'typing'][i % 5]!],
      description: `Take ${i} of a series. Recorded with a Sony PCM-D100.`,
      license: Object.values(LICENSE_URLS)[i % 6]!,
      username: `user${i % 7}`,
      duration: 1 + (i % 17) * 3.5,
      samplerate: [44100, 48000, 96000][i % 3]!,
      channels: 1 + (i % 2),
      type: 'wav',
      gen_ai_preference: i % 11 === 0 ? 'no-gen-ai' : 'no-additional-preferences',
    };
    const id = 100_000 + i * 37 + (i % 3);
    sounds.push({
      ...base,
      id,
      userId: 5000 + (i % 7),
      filesize: Math.round(base.duration * base.samplerate * base.channels * 2),
      created: new Date(Date.UTC(2015, 0, 1) + i * 86_400_000 * 13).toISOString().replace('Z', ''),
      // Every ninth sound was deleted after indexing: the API lists it as null.
      ...(i % 9 === 8 ? { deleted: true } : {}),
    });
  }
  return sounds;
}

export async function startFreesoundFixture(options: FreesoundFixtureOptions = {}): Promise<FreesoundFixture> {
  const sounds = options.sounds ?? defaultFreesoundSounds();
  const apiKey = options.apiKey ?? 'fs-fixture-key-0123456789abcdef';
  const throttle = options.throttle ?? { limit: 60, windowMs: 60_000 };
  const assets = await makeAudioAssets({
    'hq.mp3': { seconds: 3, sampleRate: 44100, channels: 2, format: 'mp3' },
    'lq.mp3': { seconds: 3, sampleRate: 22050, channels: 1, format: 'mp3' },
    'hq.ogg': { seconds: 3, sampleRate: 44100, channels: 2, format: 'ogg' },
    'lq.ogg': { seconds: 3, sampleRate: 22050, channels: 1, format: 'ogg' },
    'original.wav': { seconds: 3, sampleRate: 48000, channels: 2, format: 'wav' },
  });
  const stats: FreesoundFixture['stats'] = {
    api: new SlidingWindowCounter(throttle.windowMs, throttle.limit),
    media: new SlidingWindowCounter(options.mediaThrottle?.windowMs ?? 1000, options.mediaThrottle?.limit),
    throttled: 0,
    searches: 0,
    previews: 0,
    downloads: 0,
    refreshes: 0,
    unauthorized: 0,
    authSeen: new Set(),
  };
  const faults: FreesoundFixture['faults'] = { next429: 0, next5xx: 0, status5xx: 503, previews: new Map(), drift: null };
  const oauth = { validAccessTokens: new Set(options.oauth?.accessTokens ?? []) };
  let refreshToken = options.oauth?.refreshToken;
  let issued = 0;
  let origin = '';
  let cdnOrigin = '';

  const cdnHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const preview = /^\/previews\/(\d+)\/(\d+)_(\d+)-(hq|lq)\.(mp3|ogg)$/.exec(url.pathname);
    if (preview) return servePreview(res, Number(preview[2]), `${preview[4]}.${preview[5]}`, req.headers.range);
    sendText(res, 404, '<html><body><h1>404 Not Found</h1></body></html>');
  };

  const handler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const path = url.pathname;
    if (!path.startsWith('/apiv2/')) return sendJson(res, 404, { detail: 'Not found.' });

    // Everything under /apiv2/ passes the throttle, as the real API's does.
    const inWindow = stats.api.hit();
    if (inWindow > throttle.limit) {
      stats.throttled++;
      return sendJson(res, 429, { detail: `Request was throttled because of exceeding a request limit rate (${throttle.limit}/${throttle.windowMs === 60_000 ? 'minute' : `${throttle.windowMs}ms`})` });
    }
    if (options.dailyLimit !== undefined && stats.api.total > options.dailyLimit) {
      stats.throttled++;
      return sendJson(res, 429, { detail: `Request was throttled because of exceeding a request limit rate (${options.dailyLimit}/day)` });
    }
    if (faults.next429 > 0) {
      faults.next429--;
      stats.throttled++;
      return sendJson(res, 429, { detail: `Request was throttled because of exceeding a request limit rate (${throttle.limit}/minute)` });
    }
    if (faults.next5xx > 0) {
      faults.next5xx--;
      return sendText(res, faults.status5xx, '<html><body><h1>503 Service Temporarily Unavailable</h1><hr><center>nginx</center></body></html>');
    }

    if (path === '/apiv2/oauth2/access_token/' && req.method === 'POST') return tokenEndpoint(req, res);
    const download = /^\/apiv2\/sounds\/(\d+)\/download\/$/.exec(path);
    if (download) return serveOriginal(req, res, Number(download[1]));
    if (path === '/apiv2/search/' || path === '/apiv2/search/text/') return search(req, res, url);
    return sendJson(res, 404, { detail: 'Not found.' });
  };

  const search = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const header = req.headers.authorization;
    const token = url.searchParams.get('token');
    stats.authSeen.add(header ?? `token=${token ?? ''}`);
    if (header === undefined && token === null) {
      stats.unauthorized++;
      return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    }
    if (header !== `Token ${apiKey}` && token !== apiKey) {
      stats.unauthorized++;
      return sendJson(res, 401, { detail: 'Invalid token.' });
    }
    stats.searches++;
    if (faults.drift !== null && drifted(res, faults.drift)) return;
    const params = url.searchParams;
    const query = params.get('query') ?? '';
    const filter = params.get('filter') ?? '';
    const page = Number(params.get('page') ?? '1');
    const pageSize = Math.min(150, Math.max(1, Number(params.get('page_size') ?? '15') || 15));
    const fields = (params.get('fields') ?? DEFAULT_FIELDS.join(',')).split(',').filter(Boolean);
    let matched = sounds.filter((s) => matchesQuery(s, query) && matchesFilter(s, filter));
    matched = sortSounds(matched, params.get('sort') ?? 'score');
    const pages = Math.max(1, Math.ceil(matched.length / pageSize));
    if (!Number.isInteger(page) || page < 1 || page > pages) return sendJson(res, 404, { detail: 'Invalid page.' });
    const slice = matched.slice((page - 1) * pageSize, page * pageSize);
    // As apiv2/forms.py construct_link builds it: "?" then "&key=value" pairs, no token, values quoted
    // with my_quote = quote(s, safe=",:[]*+()'") — so `+` stays a literal plus, which servers read as a space.
    const myQuote = (v: string) => encodeURIComponent(v).replace(/%(2C|3A|5B|5D|2B)/g, (e) => decodeURIComponent(e));
    const link = (n: number) => {
      const rest: [string, string][] = [['query', query]];
      if (filter) rest.push(['filter', filter]);
      if (params.get('sort')) rest.push(['sort', params.get('sort')!]);
      rest.push(['page', String(n)], ['page_size', String(pageSize)], ['fields', fields.join(',')]);
      return `${origin}/apiv2/search/?${rest.map(([k, v]) => `&${k}=${myQuote(v)}`).join('')}`;
    };
    sendJson(res, 200, {
      count: matched.length,
      next: page < pages ? link(page + 1) : null,
      previous: page > 1 ? link(page - 1) : null,
      results: slice.map((s) => (s.deleted ? null : project(s, fields))),
    });
  };

  const project = (sound: FixtureSound, fields: string[]): Record<string, unknown> => {
    const folder = Math.floor(sound.id / 1000);
    const full: Record<string, unknown> = {
      id: sound.id,
      url: `https://freesound.org/people/${encodeURIComponent(sound.username)}/sounds/${sound.id}/`,
      name: sound.name,
      tags: sound.tags,
      description: sound.description,
      category: null,
      geotag: null,
      created: sound.created,
      license: sound.license,
      type: sound.type,
      channels: sound.channels,
      filesize: sound.filesize,
      bitrate: 0,
      bitdepth: 16,
      duration: sound.duration,
      samplerate: sound.samplerate,
      username: sound.username,
      pack: null,
      download: `${origin}/apiv2/sounds/${sound.id}/download/`,
      previews: {
        'preview-hq-mp3': `${cdnOrigin}/previews/${folder}/${sound.id}_${sound.userId}-hq.mp3`,
        'preview-lq-mp3': `${cdnOrigin}/previews/${folder}/${sound.id}_${sound.userId}-lq.mp3`,
        'preview-hq-ogg': `${cdnOrigin}/previews/${folder}/${sound.id}_${sound.userId}-hq.ogg`,
        'preview-lq-ogg': `${cdnOrigin}/previews/${folder}/${sound.id}_${sound.userId}-lq.ogg`,
      },
      num_downloads: sound.id % 977,
      avg_rating: 3.5,
      num_ratings: 4,
      md5: null,
      is_explicit: false,
      gen_ai_preference: sound.gen_ai_preference,
    };
    return Object.fromEntries(fields.filter((f) => f in full).map((f) => [f, full[f]]));
  };

  const servePreview = async (res: ServerResponse, id: number, asset: string, range?: string) => {
    stats.previews++;
    if (stats.media.hit() > (options.mediaThrottle?.limit ?? Infinity)) {
      stats.throttled++;
      return sendJson(res, 429, { detail: 'Request was throttled.' });
    }
    const fault = takeFault(faults.previews, id);
    if (!sounds.some((s) => s.id === id)) return sendJson(res, 404, { detail: 'Not found.' });
    if (fault?.redirectTo) return redirect(res, fault.redirectTo);
    if (fault?.status) return sendJson(res, fault.status, { detail: 'fixture status' });
    const custom = options.previewAudio?.(id, asset);
    await sendFile(res, custom?.path ?? assets.files[asset]!.path, {
      contentType: custom?.contentType ?? (asset.endsWith('mp3') ? 'audio/mpeg' : 'audio/ogg'),
      range,
      ...fault,
      headers: { ...custom?.headers, ...fault?.headers, ...(fault?.robots ? { 'x-robots-tag': fault.robots } : {}) },
    });
  };

  const serveOriginal = async (req: IncomingMessage, res: ServerResponse, id: number) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined || !oauth.validAccessTokens.has(bearer)) {
      stats.unauthorized++;
      return sendJson(res, 401, { detail: bearer === undefined ? 'Authentication credentials were not provided.' : 'Invalid token.' });
    }
    const sound = sounds.find((s) => s.id === id && !s.deleted);
    if (!sound) return sendJson(res, 404, { detail: 'Not found.' });
    stats.downloads++;
    await sendFile(res, assets.files['original.wav']!.path, {
      contentType: 'audio/wav',
      headers: { 'content-disposition': `attachment; filename="${encodeURIComponent(sound.name)}"` },
    });
  };

  const tokenEndpoint = async (req: IncomingMessage, res: ServerResponse) => {
    const form = new URLSearchParams(await readBody(req));
    const o = options.oauth;
    if (!o || form.get('client_id') !== o.clientId || form.get('client_secret') !== o.clientSecret) {
      return sendJson(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== refreshToken) {
      return sendJson(res, 400, { error: 'invalid_grant' });
    }
    stats.refreshes++;
    issued++;
    const access = `fs-access-${issued}-${Math.random().toString(36).slice(2)}`;
    refreshToken = `fs-refresh-${issued}-${Math.random().toString(36).slice(2)}`;
    oauth.validAccessTokens.add(access);
    sendJson(res, 200, { access_token: access, expires_in: 86400, token_type: 'Bearer', scope: 'read write', refresh_token: refreshToken });
  };

  /** What a broken or changed service answers instead of a search page; true when it answered. */
  const drifted = (res: ServerResponse, drift: FreesoundDrift): boolean => {
    switch (drift) {
      case 'login':
        sendJson(res, 403, { detail: 'You do not have permission to perform this action.' });
        return true;
      case 'challenge':
        sendText(res, 403, CHALLENGE_PAGE, { 'cf-mitigated': 'challenge' });
        return true;
      case 'missing':
        sendJson(res, 404, { detail: 'Not found.' });
        return true;
      case 'html':
        sendText(res, 200, '<!DOCTYPE html><html><head><title>Freesound - Maintenance</title></head><body>We will be back soon.</body></html>');
        return true;
      case 'empty':
        sendJson(res, 200, { count: sounds.length, next: null, previous: null, results: [] });
        return true;
      case 'renamed': {
        // A changed API: `id` and `name` renamed (sound_id, title).
        const results = sounds.slice(0, 3).map(({ id, name, ...rest }) => ({ sound_id: id, title: name, ...rest }));
        sendJson(res, 200, { count: sounds.length, next: null, previous: null, results });
        return true;
      }
    }
  };

  const server = await startHttpServer(handler);
  const cdn = await startHttpServer(cdnHandler);
  origin = server.origin;
  cdnOrigin = cdn.origin;
  return {
    ...server,
    cdn,
    mediaHost: cdn.host,
    apiBase: `${server.origin}/apiv2/`,
    apiKey,
    sounds,
    assets,
    stats,
    faults,
    oauth,
    close: closeFixture([server, cdn], assets),
  };
}

function matchesQuery(sound: FixtureSound, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  // An empty query matches everything: skip lower-casing megabyte descriptions on every page.
  if (words.length === 0) return true;
  const haystack = `${sound.name} ${sound.description} ${sound.tags.join(' ')}`.toLowerCase();
  return words.every((w) => haystack.includes(w));
}

/** The few Solr filter forms a crawler uses: `field:[a TO b]` (with `*`), `field:value`, `field:"value"`. */
export function matchesFilter(sound: FixtureSound, filter: string): boolean {
  const clauses = filter.match(/[a-z_]+:(\[[^\]]*\]|"[^"]*"|\S+)/g) ?? [];
  return clauses.every((clause) => {
    const colon = clause.indexOf(':');
    const field = clause.slice(0, colon);
    const value = clause.slice(colon + 1);
    const actual = (sound as unknown as Record<string, unknown>)[field === 'tag' ? 'tags' : field];
    const range = /^\[(\S+) TO (\S+)\]$/.exec(value);
    if (range) {
      const n = Number(actual);
      const lo = range[1] === '*' ? -Infinity : Number(range[1]);
      const hi = range[2] === '*' ? Infinity : Number(range[2]);
      return n >= lo && n <= hi;
    }
    const wanted = value.replace(/^"|"$/g, '');
    if (field === 'license') return LICENSE_NAMES[String(actual)] === wanted;
    if (Array.isArray(actual)) return actual.includes(wanted);
    return String(actual) === wanted;
  });
}

function sortSounds(sounds: FixtureSound[], sort: string): FixtureSound[] {
  const by = <T>(key: (s: FixtureSound) => T, desc: boolean) =>
    [...sounds].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c = x < y ? -1 : x > y ? 1 : a.id - b.id;
      return desc ? -c : c;
    });
  switch (sort) {
    case 'created_asc':
      return by((s) => s.created, false);
    case 'created_desc':
      return by((s) => s.created, true);
    case 'duration_asc':
      return by((s) => s.duration, false);
    case 'duration_desc':
      return by((s) => s.duration, true);
    default:
      return by((s) => s.id, false);
  }
}
