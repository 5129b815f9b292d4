/**
 * Freesound gives a sound's licence as a Creative Commons deed URL (older API versions: a name).
 * Datasets record the short id, so licence mixes can be counted and filtered.
 */
const BY_NAME: Record<string, string> = {
  'creative commons 0': 'cc0',
  attribution: 'cc-by-4.0',
  'attribution noncommercial': 'cc-by-nc-4.0',
  'sampling+': 'sampling+',
};

/** `http://creativecommons.org/licenses/by-nc/3.0/` → `cc-by-nc-3.0`; unknown values come back unchanged. */
export function licenseId(license: string | null | undefined): string | null {
  if (!license) return null;
  const text = license.trim();
  let path: string;
  try {
    path = new URL(text).pathname.toLowerCase();
  } catch {
    return BY_NAME[text.toLowerCase()] ?? text;
  }
  if (/^\/publicdomain\/zero\/1\.0\/?$/.test(path)) return 'cc0';
  const cc = /^\/licenses\/(by|by-nc|by-sa|by-nc-sa|by-nd|by-nc-nd|sampling\+|sampling)\/(\d+\.\d+)\/?$/.exec(path);
  if (cc) return cc[1]!.startsWith('sampling') ? cc[1]! : `cc-${cc[1]}-${cc[2]}`;
  return text;
}
