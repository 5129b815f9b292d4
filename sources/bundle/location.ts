import type { BundleSourceSpec } from '../../schemas/source-spec.ts';

/**
 * Where a bundle lives. Local roots (a folder or a `.zip`) are read by the `local` adapter as they
 * are; http(s) roots are either one zip archive, read with Range requests, or a web-server
 * directory listing crawled folder by folder.
 */
export type BundleLocation =
  | { kind: 'local'; path: string }
  | { kind: 'zip-url'; url: string }
  | { kind: 'listing'; url: string };

export function bundleLocation(spec: Pick<BundleSourceSpec, 'root' | 'format'>): BundleLocation {
  const url = httpUrl(spec.root);
  if (url === null) return { kind: 'local', path: spec.root };
  url.hash = '';
  const zip = spec.format === 'zip' || (spec.format === 'auto' && /\.zip$/i.test(url.pathname));
  if (zip) return { kind: 'zip-url', url: url.href };
  // A listing is a folder: links on it resolve against a base ending in `/`.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  return { kind: 'listing', url: url.href };
}

function httpUrl(root: string): URL | null {
  if (!/^https?:\/\//i.test(root)) return null;
  try {
    return new URL(root);
  } catch {
    throw new Error(`bundle root "${root}" looks like a URL but does not parse as one`);
  }
}
