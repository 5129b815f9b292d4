/**
 * Audiostock (audiostock.jp) listing pages (HTML) → items (pure). Audiostock has no API. Every
 * selector lives here, so a change of the site's markup is a change of this file.
 *
 * The markup is the one a public audiostock.jp scraper (TypeScript, found by code search;
 * see docs/sources.md) parses: each work is a `div.player-audio-inner.player-item`, carrying
 * `data-audio_url` (the `/audio/<id>/play` URL, which redirects to the 128 kbps preview on
 * cf-audiostock-public-files.audiostock.jp) and `data-logging_audio_id` (the id); the title is the
 * link in `.player-audio-info-main`, the creator `a.player-audio-user-name`, the length
 * `p.player-audio-time`. Not known from any public crawler, so not parsed: the tags, scene, purpose
 * and impression LAION's CSV had (they may live on detail pages only) and the pagination markup —
 * the adapter pages on until a page lists nothing.
 *
 * Parsed with node-html-parser rather than regular expressions: scraped markup varies in attribute
 * order, quoting, nesting and entities (`&amp;`, `&#12356;`), which regexes get wrong silently. It
 * was chosen over cheerio for size (two dependencies vs. a dozen, including undici 7) and speed; we
 * need CSS selectors and text, not a browser-exact DOM.
 */
import { parse, type HTMLElement } from 'node-html-parser';

export interface ListingItem {
  /** Position on the page (0-based). */
  position: number;
  id: string | null;
  /** Title as shown, leading number included. */
  rawTitle: string;
  creator: string | null;
  /** Length as shown (`0:25`), in seconds. */
  seconds: number | null;
  /** Absolute play URL (`…/audio/{id}/play`). */
  playUrl: string | null;
  detailUrl: string | null;
}

function tidy(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

function absolute(href: string | undefined, base: string): string | null {
  if (!href) return null;
  try {
    return new URL(href, base).href;
  } catch {
    return null;
  }
}

/** `1000123 ドアを閉める音` → `ドアを閉める音`: only a leading number (with `No.`) goes. */
export function titleWithoutNumber(title: string): string {
  return tidy(title.replace(/^\s*(?:No\.?\s*)?\d+[\s.:：_\-–、。]+/i, ''));
}

/** `1:05` or `0:01:05` (the last one in the text) → seconds. */
function lengthSeconds(text: string): number | null {
  const match = /(?:(\d+):)?(\d+):(\d{2})\s*$/.exec(tidy(text));
  return match ? Number(match[1] ?? 0) * 3600 + Number(match[2]) * 60 + Number(match[3]) : null;
}

function attribute(element: HTMLElement, name: string): string | undefined {
  return element.getAttribute(name) ?? element.querySelector(`[${name}]`)?.getAttribute(name);
}

function itemFrom(element: HTMLElement, position: number, base: string): ListingItem {
  const link = element.querySelector('.player-audio-info-main a');
  const playUrl = absolute(attribute(element, 'data-audio_url'), base);
  let id = attribute(element, 'data-logging_audio_id') ?? null;
  id ??= /\/audio\/(\d+)/.exec(playUrl ?? link?.getAttribute('href') ?? '')?.[1] ?? null;
  const creator = element.querySelector('.player-audio-user-name');
  const time = element.querySelector('.player-audio-time');
  return {
    position,
    id: id !== null && /^\d+$/.test(id) ? id : null,
    rawTitle: tidy(link?.text ?? ''),
    creator: creator ? tidy(creator.text) || null : null,
    seconds: time ? lengthSeconds(time.text) : null,
    playUrl,
    detailUrl: absolute(link?.getAttribute('href'), base),
  };
}

/** The works listed on one page; `base` resolves relative links. */
export function parseListing(html: string, base: string): ListingItem[] {
  return parse(html)
    .querySelectorAll('.player-item')
    .map((element, position) => itemFrom(element, position, base));
}
