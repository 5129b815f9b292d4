import { isAbsolute, posix, relative, sep } from 'node:path';

/**
 * Orders strings by their UTF-8 bytes (= code point order). Plain `<` compares UTF-16 code units,
 * which puts astral characters before U+E000–U+FFFF; byte order is what every other tool sorts by.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++; // both strings hold the same surrogate pair here
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * A path inside a collection in canonical form: POSIX separators (Windows-made manifests and zips
 * use `\`), no `.`/empty segments, `..` folded. The result may still escape (`../x`, `/x`); check
 * with `isInsideCollection` before touching the disk.
 */
export function normaliseCollectionPath(raw: string): string {
  const normal = posix.normalize(raw.replace(/\\/g, '/'));
  return normal.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.';
}

/** Whether a normalised collection path stays inside the collection. */
export function isInsideCollection(path: string): boolean {
  if (path === '.' || path === '..' || path.startsWith('../')) return false;
  return !path.startsWith('/') && !/^[a-zA-Z]:/.test(path);
}

/** Whether host path `child` is `parent` or lies below it (both absolute and resolved). */
export function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}
