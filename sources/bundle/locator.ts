import { decodeSegment } from './autoindex.ts';
import { isInsideCollection, normaliseCollectionPath } from '../local/paths.ts';

/**
 * `ClipRecord.audio` of a file found in a directory listing: `url:<path>`, `<path>` being the
 * file's URL path below the listing root exactly as the server linked it (percent-encoded), so the
 * request repeats the server's own spelling even for names that do not survive decoding and
 * re-encoding. Folder and zip bundles use the `local` adapter's `file:`/`zip:` locators.
 */
export function formatUrlLocator(encodedPath: string): string {
  return `url:${encodedPath}`;
}

export function parseUrlLocator(audio: string): string | null {
  return audio.startsWith('url:') && audio.length > 4 ? audio.slice(4) : null;
}

/** The decoded collection path of an encoded listing path (may escape: check with isInsideCollection). */
export function decodedCollectionPath(encodedPath: string): string {
  return normaliseCollectionPath(encodedPath.split('/').map(decodeSegment).join('/'));
}

/**
 * The URL of a listing file, or null when the path leaves the listing root: by its decoded segments
 * (`..%2Fevil.wav`), or by what a URL parser makes of it (`%2e%2e/`, a query or fragment).
 */
export function listingFileUrl(rootUrl: string, encodedPath: string): string | null {
  if (!isInsideCollection(decodedCollectionPath(encodedPath))) return null;
  const root = new URL(rootUrl);
  let url: URL;
  try {
    url = new URL(`./${encodedPath}`, root); // ./ so a name with a colon is not read as a scheme
  } catch {
    return null;
  }
  const inside = url.origin === root.origin && url.pathname.startsWith(root.pathname) && url.pathname !== root.pathname;
  return inside && url.search === '' && url.hash === '' ? url.href : null;
}
