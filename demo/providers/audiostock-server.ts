/**
 * Audiostock stand-ins: a site host serving HTML listing pages (`/se?page=N`: Japanese text, HTML
 * entities, irregular whitespace and attribute order, titles with a leading number, comma-separated
 * tags with ASCII and Japanese commas, a scene/purpose/impression list, a malformed item, `rel=next`
 * until the last page) and `/audio/{id}/play`, which answers 302 to a preview MP3 on a separate
 * preview host — or, when armed, to a host that is not Audiostock's (an "admin" port). Real MP3s.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AudioAssets, type FileFault, type RunningServer, makeAudioAssets, redirect, sendFile, sendText, startHttpServer, takeFault } from './common.ts';

export interface AudiostockItem {
  id: number;
  /** As displayed: with its leading number. */
  title: string;
  tags: string;
  scene: string;
  purpose: string;
  impression: string;
}

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
  };
  close(): Promise<void>;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function defaultAudiostockItems(count = 14): AudiostockItem[] {
  const special: Omit<AudiostockItem, 'id'>[] = [
    { title: '1000123 ドアを閉める音', tags: 'ドア,閉める, 室内', scene: '日常', purpose: 'ゲーム', impression: '静か' },
    { title: '1000124 Footsteps & "heavy" boots', tags: 'footsteps, boots,walk', scene: 'Horror', purpose: 'Film', impression: 'Dark' },
    { title: 'No.1000125 雨の音（強め）', tags: '雨、天気、自然', scene: '自然', purpose: '動画', impression: '落ち着いた' },
  ];
  const items: AudiostockItem[] = [];
  for (let i = 0; i < count; i++) {
    const id = 1000123 + i;
    items.push({ id, ...(special[i] ?? { title: `${id} 効果音 ${['ピコン', 'ジャンプ', '決定音', '爆発'][i % 4]} ${i}`, tags: `効果音,${['UI', 'ゲーム', 'ボタン', '爆発'][i % 4]}`, scene: 'ゲーム', purpose: 'UI', impression: '明るい' }) });
  }
  return items;
}

function itemHtml(item: AudiostockItem, index: number): string {
  // Markup varies a little from item to item, as scraped pages do.
  const attrs = index % 2 === 0 ? `class="audio-item" data-audio-id="${item.id}"` : `data-audio-id='${item.id}'  class="audio-item js-item"`;
  return `
    <li ${attrs}>
      <h2 class="audio-title"><a href="/audio/${item.id}">${escape(item.title)}</a></h2>
      <p class="audio-tags">${escape(item.tags)}</p>
      <dl class="audio-meta">
        <dt>シーン</dt><dd>${escape(item.scene)}</dd>
        <dt>用途</dt>
        <dd>${escape(item.purpose)}</dd>
        <dt>イメージ</dt><dd> ${escape(item.impression)} </dd>
      </dl>
      <button type="button" class="btn play" data-play-url="/audio/${item.id}/play">&#x518D;&#x751F;</button>
    </li>`;
}

export async function startAudiostockFixture(options: { items?: AudiostockItem[]; pageSize?: number } = {}): Promise<AudiostockFixture> {
  const items = options.items ?? defaultAudiostockItems();
  const pageSize = options.pageSize ?? 5;
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const assets = await makeAudioAssets({ 'preview.mp3': { seconds: 3, sampleRate: 44100, channels: 2, format: 'mp3' } });
  const stats = { pages: 0, plays: 0, previews: 0 };
  const faults: AudiostockFixture['faults'] = { playRedirects: new Map(), previews: new Map(), pageRobots: new Map() };
  let previewOrigin = '';

  const listing = (page: number) => {
    const slice = items.slice((page - 1) * pageSize, page * pageSize);
    // Page 2 also lists an item the scraper cannot use (no id, no play button).
    const broken = page === 2 ? `\n    <li class="audio-item"><h2 class="audio-title">販売終了</h2></li>` : '';
    return `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>効果音素材 | Audiostock</title>
${page < pages ? `<link rel="next" href="/se?page=${page + 1}">` : ''}</head>
<body><header><nav><a href="/">Audiostock</a></nav></header>
<main>
  <ul class="audio-list">${slice.map((item, i) => itemHtml(item, i)).join('')}${broken}
  </ul>
  <nav class="pagination">${page > 1 ? `<a rel="prev" href="/se?page=${page - 1}">前へ</a>` : ''} <span>${page} / ${pages}</span>
  ${page < pages ? `<a rel="next" href="/se?page=${page + 1}">次へ</a>` : ''}</nav>
</main></body></html>`;
  };

  const siteHandler = (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname === '/se') {
      stats.pages++;
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
      return redirect(res, faults.playRedirects.get(id) ?? `${previewOrigin}/preview/${id}.mp3`);
    }
    sendText(res, 404, 'Not Found');
  };

  const previewHandler = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const match = /^\/preview\/(\d+)\.mp3$/.exec(url.pathname);
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
    close: async () => {
      await Promise.all([site.close(), previews.close()]);
      await assets.cleanup();
    },
  };
}
