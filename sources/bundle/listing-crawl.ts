import { isAudioPath, isSkippedName } from '../local/audio-files.ts';
import { compareUtf8 } from '../local/paths.ts';
import { parseListing, type ListingLink } from './autoindex.ts';

/** One listing page as fetched: its final URL (after redirects) and HTML, or null when it must be skipped. */
export type FetchListingPage = (url: string) => Promise<{ url: string; html: string } | null>;

export interface ListedFile {
  /** Decoded path below the root (`Foley/Door Slam.wav`); may escape in a hostile listing. */
  path: string;
  /** The same path as the server spelled it in its links (`Foley/Door%20Slam.wav`). */
  encodedPath: string;
}

interface Item {
  link: ListingLink;
  /** Folders sort as `name/`, so per-folder order gives global byte order of the paths. */
  key: string;
}

/**
 * Every audio file below a directory-listing URL, depth first, in byte order of the decoded path
 * (the order the `local` adapter walks the same tree in, so a mirror and its listing give the same
 * shards). One page per folder is held at a time per depth. Hidden names, `__MACOSX` and
 * non-audio files are skipped; files whose decoded name escapes (`..%2Fevil.wav`) are yielded so
 * they are refused and counted rather than silently lost; such folders are never entered.
 */
export async function* crawlListing(rootUrl: string, fetchPage: FetchListingPage): AsyncGenerator<ListedFile> {
  yield* crawlFolder(rootUrl, '', '', fetchPage, new Set());
}

async function* crawlFolder(
  url: string, relDir: string, encodedDir: string, fetchPage: FetchListingPage, visited: Set<string>,
): AsyncGenerator<ListedFile> {
  const page = await fetchPage(url);
  if (page === null) return;
  // A redirect can land on a folder already crawled (a symlink loop on the server): once only.
  const finalUrl = new URL(page.url);
  finalUrl.search = '';
  finalUrl.hash = '';
  if (visited.has(finalUrl.href)) return;
  visited.add(finalUrl.href);

  const items: Item[] = [];
  for (const link of parseListing(page.html, finalUrl.href)) {
    if (link.kind === 'dir') {
      // `..`, hidden folders, `__MACOSX` and names that decode to several segments are not entered.
      const enterable = !isSkippedName(link.name) && !link.name.includes('/') && !link.name.includes('\\');
      if (enterable) items.push({ link, key: `${link.name}/` });
    } else if (isAudioPath(relDir + link.name)) {
      items.push({ link, key: link.name });
    }
  }
  items.sort((a, b) => compareUtf8(a.key, b.key));

  for (const { link } of items) {
    if (link.kind === 'file') {
      yield { path: relDir + link.name, encodedPath: encodedDir + link.segment };
      continue;
    }
    const childUrl = new URL(`./${link.segment}/`, finalUrl).href;
    yield* crawlFolder(childUrl, `${relDir}${link.name}/`, `${encodedDir}${link.segment}/`, fetchPage, visited);
  }
}
