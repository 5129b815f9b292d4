/**
 * Epidemic Sound's site JSON as LAION crawled it: `GET /json/search/sfx/?genres={Category}&order=desc
 * &page=N` → `{meta: {totalPages, …}, entities: {tracks: {<id>: {…}}}}` — tracks as an object keyed by
 * id, written in an order that is neither id order nor stable across requests (some ids are too
 * large to be array indices, so JavaScript keeps their insertion order: the client must sort). An
 * empty category answers `tracks: []`. Audio (real MP3) on a separate CDN host. With `session`, the
 * site wants a logged-in session as today's does (public 2025 scrapers: Cookie, x-csrftoken,
 * epidemic-workspace-id, app-version): without a cookie it answers Cloudflare's 403 challenge page,
 * with a wrong one 401 (the real body is unknown: ours is a guess). Faults: 429 with Retry-After, 5xx
 * bursts, per-file faults, and `drift` (challenge, login, 404, HTML app shell, renamed fields, nothing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AudioAssets, type FileFault, type RunningServer, CHALLENGE_PAGE, makeAudioAssets, redirect, sendFile, sendJson, sendText, startHttpServer, takeFault, closeFixture } from './common.ts';

/** How the site JSON misbehaves when `faults.drift` is set (first-page and probe tests). */
export type EpidemicDrift = 'challenge' | 'login' | 'missing' | 'html' | 'renamed' | 'empty';

/** The session the site accepts when one is required (values a test sets in the environment). */
export interface EpidemicFixtureSession {
  cookie: string;
  csrfToken: string;
}

export interface EpidemicTrack {
  id: number;
  publicSlug: string;
  title: string;
  length: number;
  added: string;
  bpm: number | null;
  isSfx: boolean;
  hasVocals: boolean;
  energyLevel: string | null;
  genres: { tag: string; slug: string; displayTag: string; fatherTag: string }[];
  metadataTags: string[];
  /** Absent for a track without a preview stem. */
  stems?: { full: { lqMp3Url: string } };
}

export interface EpidemicFixture {
  site: RunningServer;
  cdn: RunningServer;
  siteBase: string;
  /** Tracks per category, in the server's (unsorted) order. */
  categories: Record<string, EpidemicTrack[]>;
  pageSize: number;
  assets: AudioAssets;
  stats: { pages: number; files: number; /** Request headers of every site request (to check what a session sends). */ siteHeaders: IncomingMessage['headers'][] };
  faults: { next429: number; next5xx: number; files: Map<number, FileFault>; drift: EpidemicDrift | null };
  close(): Promise<void>;
}

const WORDS: Record<string, [string, string[]][]> = {
  Animals: [['Dog Bark', ['dog', 'bark', 'small']], ['Cat Meow', ['cat', 'meow']], ['Horse Gallop', ['horse', 'gallop', 'hooves', 'dirt']], ['Cow Moo', ['cow']]],
  Foley: [['Door Creak', ['door', 'creak', 'squeak', 'wood']], ['Footsteps Gravel', ['footsteps', 'gravel']], ['Paper Rustle', ['paper', 'rustle', 'handling']]],
  Cartoon: [['Boing', ['spring', 'bounce', 'comedy']], ['Slide Whistle Up', ['whistle', 'slide', 'up']]],
};

function track(id: number, category: string, i: number): EpidemicTrack {
  const [title, tags] = WORDS[category]![i % WORDS[category]!.length]!;
  return {
    id,
    publicSlug: `${title.toLowerCase().replace(/\s+/g, '-')}-${i + 1}`,
    title: `${title} ${i + 1}`,
    length: 1 + (i % 9),
    added: new Date(Date.UTC(2018, 0, 1 + i * 5)).toISOString(),
    bpm: null,
    isSfx: true,
    hasVocals: false,
    energyLevel: null,
    genres: [{ tag: category, slug: category.toLowerCase(), displayTag: category, fatherTag: 'Sound Effects' }],
    metadataTags: tags.slice(0, 1 + (i % tags.length)),
    stems: { full: { lqMp3Url: '' } }, // written once the CDN server has a port
  };
}

export async function startEpidemicFixture(options: { pageSize?: number; perCategory?: number; session?: EpidemicFixtureSession } = {}): Promise<EpidemicFixture> {
  const pageSize = options.pageSize ?? 4;
  const perCategory = options.perCategory ?? 9;
  const assets = await makeAudioAssets({ 'lq.mp3': { seconds: 3, sampleRate: 44100, channels: 2, format: 'mp3' } });
  const categories: Record<string, EpidemicTrack[]> = { Animals: [], Foley: [], Cartoon: [], Empty: [] };
  for (const [c, name] of ['Animals', 'Foley', 'Cartoon'].entries()) {
    for (let i = 0; i < perCategory; i++) {
      // Mostly five-digit ids; a few beyond 2^32, which JavaScript objects keep in insertion order.
      const id = i % 4 === 3 ? 5_000_000_000 + c * 100 + i : 70_000 + c * 1000 + ((i * 7919) % 1000);
      categories[name]!.push(track(id, name, i));
    }
  }
  // "Door Creak" is also filed under Animals (the site lists tracks in several categories).
  categories.Animals!.push({ ...categories.Foley![0]! });
  // A track without stems: its record must come out invalid, not vanish.
  delete categories.Cartoon![1]!.stems;
  // Titles with trailing digits and spaces, and an all-digit title.
  categories.Cartoon![0]!.title = 'Boing Spring  22';
  categories.Cartoon![2]!.title = '123';

  const stats: EpidemicFixture['stats'] = { pages: 0, files: 0, siteHeaders: [] };
  const faults: EpidemicFixture['faults'] = { next429: 0, next5xx: 0, files: new Map(), drift: null };
  let requestNo = 0;

  const siteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    stats.siteHeaders.push(req.headers);
    const session = options.session;
    if (session && req.headers.cookie === undefined) return sendText(res, 403, CHALLENGE_PAGE, { 'cf-mitigated': 'challenge' });
    if (session && (req.headers.cookie !== session.cookie || req.headers['x-csrftoken'] !== session.csrfToken)) return sendJson(res, 401, { message: 'Unauthorized' });
    switch (faults.drift) {
      case 'challenge':
        return sendText(res, 403, CHALLENGE_PAGE, { 'cf-mitigated': 'challenge' });
      case 'login':
        return sendJson(res, 401, { message: 'Unauthorized' });
      case 'missing':
        return sendJson(res, 404, { message: 'Not found' });
      case 'html':
        return sendText(res, 200, '<!DOCTYPE html><html><head><title>Epidemic Sound</title></head><body><div id="root"></div><script src="/static/app.js"></script></body></html>');
      case 'renamed':
        // Tracks without the fields we read (stems renamed to assets).
        return sendJson(res, 200, { meta: { totalPages: 1, totalTracks: 2 }, entities: { tracks: { '1': { id: 1, title: 'Dog Bark 1', assets: {} }, '2': { id: 2, title: 'Cat 2', assets: {} } } } });
      case 'empty':
        return sendJson(res, 200, { meta: { totalPages: 0, totalTracks: 0 }, entities: { tracks: [] } });
      default:
        break;
    }
    if (faults.next429 > 0) {
      faults.next429--;
      return sendJson(res, 429, { message: 'Too Many Requests' }, { 'retry-after': '0' });
    }
    if (faults.next5xx > 0) {
      faults.next5xx--;
      return sendText(res, 503, '<html><body>Service Unavailable</body></html>');
    }
    if (url.pathname !== '/json/search/sfx/') return sendJson(res, 404, { message: 'Not found' });
    stats.pages++;
    const genre = url.searchParams.get('genres') ?? '';
    const page = Number(url.searchParams.get('page') ?? '1');
    const tracks = categories[genre];
    if (tracks === undefined) return sendJson(res, 200, { meta: { totalPages: 0, totalTracks: 0 }, entities: { tracks: [] } });
    const totalPages = Math.ceil(tracks.length / pageSize);
    const slice = page >= 1 ? tracks.slice((page - 1) * pageSize, page * pageSize) : [];
    // Written by hand, in a rotating order, so key order carries no meaning.
    requestNo++;
    const rotated = slice.map((_, i) => slice[(i + requestNo) % slice.length]!);
    const entries = rotated.map((t) => `${JSON.stringify(String(t.id))}:${JSON.stringify(t)}`).join(',');
    const body = `{"meta":{"totalPages":${totalPages},"totalTracks":${tracks.length},"page":${page}},"entities":{"tracks":${slice.length === 0 ? '[]' : `{${entries}}`}}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const cdnHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    // The CDN is public: a session header reaching it would be a leak.
    if (req.headers.cookie !== undefined || req.headers['x-csrftoken'] !== undefined) return sendText(res, 400, 'session sent to the CDN');
    const match = /^\/lqmp3\/(\d+)\.mp3$/.exec(url.pathname);
    if (!match) return sendText(res, 404, 'Not Found');
    stats.files++;
    const fault = takeFault(faults.files, Number(match[1]));
    if (fault?.redirectTo) return redirect(res, fault.redirectTo);
    if (fault?.status) return sendText(res, fault.status, 'fault');
    await sendFile(res, assets.files['lq.mp3']!.path, { contentType: 'audio/mpeg', range: req.headers.range, ...fault, headers: { ...fault?.headers, ...(fault?.robots ? { 'x-robots-tag': fault.robots } : {}) } });
  };

  const site = await startHttpServer(siteHandler);
  const cdnServer = await startHttpServer(cdnHandler);
  const cdnOrigin = cdnServer.origin;
  // The CDN's port is known only now: write the audio URLs.
  for (const tracks of Object.values(categories)) {
    for (const t of tracks) if (t.stems) t.stems = { full: { lqMp3Url: `${cdnOrigin}/lqmp3/${t.id}.mp3` } };
  }
  return {
    site,
    cdn: cdnServer,
    siteBase: `${site.origin}/`,
    categories,
    pageSize,
    assets,
    stats,
    faults,
    close: closeFixture([site, cdnServer], assets),
  };
}
