/**
 * `ClipRecord.audio` for local sources: `file:<path>` (a file under a folder root) or
 * `zip:<path>` (an entry of a zip root), `<path>` being the POSIX path relative to the root, raw
 * (not URL-encoded; everything after the first colon). Relative, so a record planned on one host
 * opens on any worker that mounts the same root.
 */
export type LocatorKind = 'file' | 'zip';

export function formatLocator(kind: LocatorKind, path: string): string {
  return `${kind}:${path}`;
}

export function parseLocator(audio: string): { kind: LocatorKind; path: string } | null {
  const colon = audio.indexOf(':');
  const kind = audio.slice(0, colon);
  const path = audio.slice(colon + 1);
  if (colon < 0 || path === '' || (kind !== 'file' && kind !== 'zip')) return null;
  return { kind, path };
}

/** The `audio` of a manifest row that could not be read; it never opens (the record is invalid). */
export function invalidRowLocator(line: number): string {
  return `invalid:manifest-line-${line}`;
}
