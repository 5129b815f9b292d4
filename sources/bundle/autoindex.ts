/**
 * Reads the links of a web-server directory listing (Apache `mod_autoindex`, nginx `autoindex`,
 * lighttpd, `python -m http.server`, a `wget -r` mirror served back): the only thing that matters is
 * each `<a href>`, read with node-html-parser (the project's one HTML parser, which also decodes
 * character references in attribute values). Display text is never used, since nginx truncates long
 * names (`Long_name_of_a_fi..>`).
 */
import { parse } from 'node-html-parser';

export interface ListingLink {
  /** The child's name, percent-decoded (may hold `/` or be `..` in a hostile listing). */
  name: string;
  /** The name as it appears in the URL path (percent-encoded): requests use it verbatim. */
  segment: string;
  kind: 'dir' | 'file';
}

/**
 * The direct children a listing page links to, in page order, deduplicated. Kept: links that
 * resolve to exactly one path segment below the page (a folder when it ends in `/`). Dropped:
 * parent and self links (`../`, `./`, `/`), column-sorting links (`?C=N;O=D`, any query),
 * fragments, other hosts, and links deeper or elsewhere on the site (icons, breadcrumbs), so
 * every file is reached from its own folder's page exactly once.
 */
export function parseListing(html: string, pageUrl: string): ListingLink[] {
  const page = new URL(pageUrl);
  page.search = '';
  page.hash = '';
  if (!page.pathname.endsWith('/')) page.pathname += '/';
  const links: ListingLink[] = [];
  const seen = new Set<string>();
  // Apache and nginx put their links inside <pre>, which node-html-parser keeps as raw text by default.
  const root = parse(html, { blockTextElements: { script: true, noscript: true, style: true } });
  for (const anchor of root.querySelectorAll('a[href]')) {
    const raw = (anchor.getAttribute('href') ?? '').trim();
    if (raw === '' || raw.startsWith('?') || raw.startsWith('#')) continue;
    let url: URL;
    try {
      url = new URL(raw, page);
    } catch {
      continue; // not a URL at all: nothing to follow
    }
    if (url.origin !== page.origin || url.search !== '') continue;
    url.hash = '';
    const child = childSegment(page.pathname, url.pathname);
    if (child === null) continue;
    if (seen.has(child.segment)) continue;
    seen.add(child.segment);
    links.push({ name: decodeSegment(child.segment), segment: child.segment, kind: child.dir ? 'dir' : 'file' });
  }
  return links;
}

/** `base/x` or `base/x/` → the raw segment `x`; anything else (deeper, outside, `base/` itself) → null. */
function childSegment(base: string, path: string): { segment: string; dir: boolean } | null {
  if (!path.startsWith(base)) return null;
  const rest = path.slice(base.length);
  const dir = rest.endsWith('/');
  const segment = dir ? rest.slice(0, -1) : rest;
  if (segment === '' || segment.includes('/')) return null;
  return { segment, dir };
}

/**
 * Percent-decoding of one URL path segment. Escapes that are not UTF-8 (`%E9` from a server whose
 * file names are Latin-1) are read as Latin-1, so the caption stays readable; requests never use
 * this name, only the segment as served.
 */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}
