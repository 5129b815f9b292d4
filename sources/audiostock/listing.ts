/**
 * Audiostock listing pages (HTML) → items (pure). Audiostock has no API; LAION scraped listings into
 * `index, title, impression, scene, purpose, tags, audio_url`. Every selector lives here, so a change
 * of the site's markup is a change of this file.
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
  tags: string[];
  scene: string | null;
  purpose: string | null;
  impression: string | null;
  /** Absolute play URL (`…/audio/{id}/play`). */
  playUrl: string | null;
  detailUrl: string | null;
}

export interface ListingPage {
  items: ListingItem[];
  /** Absolute URL of the next page, when the page links one. */
  next: string | null;
}

// Labels of the metadata list, Japanese as on the site, English as on its English pages.
const LABELS: Record<string, 'scene' | 'purpose' | 'impression'> = {
  シーン: 'scene',
  scene: 'scene',
  用途: 'purpose',
  purpose: 'purpose',
  イメージ: 'impression',
  impression: 'impression',
};

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

/** Comma-split tags (ASCII and Japanese commas), trimmed, without repeats. */
export function splitTags(text: string): string[] {
  return [...new Set(text.split(/[,、，]/).map(tidy).filter((t) => t !== ''))];
}

function itemFrom(element: HTMLElement, position: number, base: string): ListingItem {
  const titleElement = element.querySelector('.audio-title');
  const link = titleElement?.querySelector('a') ?? null;
  const play = element.querySelector('[data-play-url]') ?? element.querySelector('a.play');
  const playUrl = absolute(play?.getAttribute('data-play-url') ?? play?.getAttribute('href'), base);
  let id = element.getAttribute('data-audio-id') ?? null;
  id ??= /\/audio\/(\d+)/.exec(playUrl ?? link?.getAttribute('href') ?? '')?.[1] ?? null;
  const meta: Pick<ListingItem, 'scene' | 'purpose' | 'impression'> = { scene: null, purpose: null, impression: null };
  for (const dt of element.querySelectorAll('dl.audio-meta dt')) {
    const key = LABELS[tidy(dt.text).toLowerCase()] ?? LABELS[tidy(dt.text)];
    const dd = dt.nextElementSibling;
    if (key && dd && dd.tagName === 'DD') meta[key] = tidy(dd.text);
  }
  const tagsElement = element.querySelector('.audio-tags');
  return {
    position,
    id: id !== null && /^\d+$/.test(id) ? id : null,
    rawTitle: tidy(titleElement?.text ?? ''),
    tags: tagsElement ? splitTags(tagsElement.text) : [],
    ...meta,
    playUrl,
    detailUrl: absolute(link?.getAttribute('href'), base),
  };
}

/** Parses one listing page; `base` resolves relative links. */
export function parseListing(html: string, base: string): ListingPage {
  const root = parse(html);
  const items = root.querySelectorAll('.audio-item').map((element, position) => itemFrom(element, position, base));
  const next = root.querySelector('a[rel="next"]') ?? root.querySelector('link[rel="next"]');
  return { items, next: absolute(next?.getAttribute('href'), base) };
}
