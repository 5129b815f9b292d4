/**
 * Audiostock (audiostock.jp) stand-ins: a site host serving HTML listing pages (`/se?page=N`) in the
 * markup a public audiostock.jp scraper parses today (docs/sources.md): works as
 * `div.player-audio-inner.player-item` with `data-audio_url` / `data-logging_audio_id` on the play
 * button, the title link in `.player-audio-info-main`, the creator in `a.player-audio-user-name`, the
 * length in `p.player-audio-time` — with Japanese text, entities, irregular whitespace and attribute
 * order, titles with a leading number, a malformed work, and 404 past the last page; and
 * `/audio/{id}/play`, which answers 302 to `/audio-sample-128kbps/<id>-<hash>.mp3` on a separate
 * preview host (as cf-audiostock-public-files.audiostock.jp) — or, when armed, to a host that is
 * not Audiostock's. Real MP3s. `drift` makes the listing answer as a moved or changed site would.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AudioAssets, type FileFault, type RunningServer, CHALLENGE_PAGE, makeAudioAssets, redirect, sendFile, sendText, startHttpServer, takeFault, closeFixture } from './common.ts';

export interface AudiostockItem {
  id: number;
  /** As displayed: with its leading number. */
  title: string;
  creator: string;
  seconds: number;
}

/** How the listing misbehaves when `faults.drift` is set: 404 (audiostock.net today), a challenge, a login page, changed markup. */
export type AudiostockDrift = 'missing' | 'challenge' | 'login' | 'renamed';

export interface AudiostockFixture {
  site: RunningServer;
  previews: RunningServer;
  /** `<site>/se?page={page}` */
  listUrl: string;
  items: AudiostockItem[];
  pageSize: number;
  assets: AudioAssets;
  stats: { pages: number; plays: number; previews: number };
  faults: {
    /** Play redirects for these ids go here instead of the preview host. */
    playRedirects: Map<number, string>;
    previews: Map<number, FileFault>;
    /** Listing pages answering X-Robots-Tag (page number → value). */
    pageRobots: Map<number, string>;
    drift: AudiostockDrift | null;
  };
  close(): Promise<void>;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function defaultAudiostockItems(count = 14): AudiostockItem[] {
  const special: Omit<AudiostockItem, 'id'>[] = [
    { title: '1000123 ドアを閉める音', creator: 'サウンド工房', seconds: 3 },
    { title: '1000124 Footsteps & "heavy" boots', creator: 'foley_jp', seconds: 12 },
    { title: 'No.1000125 雨の音（強め）', creator: '自然音', seconds: 65 },
  ];
  const items: AudiostockItem[] = [];
  for (let i = 0; i < count; i++) {
    const id = 1000123 + i;
    items.push({ id, ...(special[i] ?? { title: `${id} 効果音 ${['ピコン', 'ジャンプ', '決定音', '爆発'][i % 4]} ${i}`, creator: `creator${i % 3}`, seconds: 1 + (i % 5) }) });
  }
  return items;
}

const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

function itemHtml(item: AudiostockItem, index: number): string {
  // Markup varies a little from item to item, as scraped pages do.
  const play = index % 2 === 0
    ? `<button type="button" class="player-audio-play js-play" data-audio_url="/audio/${item.id}/play" data-logging_audio_id="${item.id}">&#x518D;&#x751F;</button>`
    : `<button data-logging_audio_id='${item.id}'  class="player-audio-play js-play" data-audio_url='/audio/${item.id}/play' type="button">&#x518D;&#x751F;</button>`;
  return `
    <div class="player-audio-inner player-item js-player-item">
      <div class="player-audio-btn">${play}</div>
      <div class="player-audio-info">
        <div class="player-audio-info-main"><a href="/audio/${item.id}">${escape(item.title)}</a></div>
        <a class="user-icon-text player-audio-user-name" href="/creators/${item.id % 97}"><img src="/img/u.png" alt="">${escape(item.creator)}</a>
        <p class="player-audio-time time_label"><span>長さ</span> ${clock(item.seconds)}</p>
      </div>
    </div>`;
}

export async function startAudiostockFixture(options: { items?: AudiostockItem[]; pageSize?: number } = {}): Promise<AudiostockFixture> {
  const items = options.items ?? defaultAudiostockItems();
  const pageSize = options.pageSize ?? 5;
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const assets = await makeAudioAssets({ 'preview.mp3': { seconds: 3, sampleRate: 44100, channels: 2, format: 'mp3' } });
  const stats = { pages: 0, plays: 0, previews: 0 };
  const faults: AudiostockFixture['faults'] = { playRedirects: new Map(), previews: new Map(), pageRobots: new Map(), drift: null };
  let previewOrigin = '';

  const listing = (page: number) => {
    const slice = items.slice((page - 1) * pageSize, page * pageSize);
    // Page 2 also lists a work the scraper cannot use (sold out: no id, no play button).
    const broken = page === 2 ? `\n    <div class="player-audio-inner player-item"><div class="player-audio-info-main"><a>販売終了</a></div></div>` : '';
    const works = faults.drift === 'renamed' ? slice.map((item) => `<article class="track-card"><h3>${escape(item.title)}</h3></article>`).join('') : `${slice.map((item, i) => itemHtml(item, i)).join('')}${broken}`;
    return `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>効果音素材 | Audiostock</title></head>
<body><header><nav><a href="/">Audiostock</a></nav></header>
<main>
  <div class="player-audio-list">${works}
  </div>
  <nav class="pagination">${page > 1 ? `<a href="/se?page=${page - 1}">前へ</a>` : ''} <span>${page} / ${pages}</span>
  ${page < pages ? `<a href="/se?page=${page + 1}">次へ</a>` : ''}</nav>
</main></body></html>`;
  };

  const siteHandler = (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname === '/se') {
      stats.pages++;
      if (faults.drift === 'missing') return sendText(res, 404, '<html><body>ページが見つかりません</body></html>');
      if (faults.drift === 'challenge') return sendText(res, 403, CHALLENGE_PAGE, { 'cf-mitigated': 'challenge' });
      if (faults.drift === 'login') return sendText(res, 200, '<!DOCTYPE html><html lang="ja"><head><title>ログイン | Audiostock</title></head><body><form action="/login" method="post"><input name="email"><input name="password" type="password"></form></body></html>');
      const page = Number(url.searchParams.get('page') ?? '1');
      if (!Number.isInteger(page) || page < 1 || page > pages) return sendText(res, 404, '<html><body>ページが見つかりません</body></html>');
      const robots = faults.pageRobots.get(page);
      return sendText(res, 200, listing(page), robots ? { 'x-robots-tag': robots } : {});
    }
    const play = /^\/audio\/(\d+)\/play$/.exec(url.pathname);
    if (play) {
      stats.plays++;
      const id = Number(play[1]);
      if (!items.some((i) => i.id === id)) return sendText(res, 404, 'Not Found');
      const hash = createHash('sha1').update(String(id)).digest('hex').slice(0, 10);
      return redirect(res, faults.playRedirects.get(id) ?? `${previewOrigin}/audio-sample-128kbps/${id}-${hash}.mp3`);
    }
    sendText(res, 404, 'Not Found');
  };

  const previewHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const match = /^\/audio-sample-128kbps\/(\d+)-[0-9a-f]+\.mp3$/.exec(url.pathname);
    if (!match) return sendText(res, 404, 'Not Found');
    stats.previews++;
    const fault = takeFault(faults.previews, Number(match[1]));
    if (fault?.status) return sendText(res, fault.status, 'fault');
    await sendFile(res, assets.files['preview.mp3']!.path, { contentType: 'audio/mpeg', range: req.headers.range, ...fault, headers: { ...fault?.headers, ...(fault?.robots ? { 'x-robots-tag': fault.robots } : {}) } });
  };

  const site = await startHttpServer(siteHandler);
  const previews = await startHttpServer(previewHandler);
  previewOrigin = previews.origin;
  return {
    site,
    previews,
    listUrl: `${site.origin}/se?page={page}`,
    items,
    pageSize,
    assets,
    stats,
    faults,
    close: closeFixture([site, previews], assets),
  };
}
