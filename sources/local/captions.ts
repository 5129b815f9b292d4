/**
 * The captioning rule LAION used for the purchased sound-effect bundles, whose only metadata was
 * the file name: the name is the caption and the folders above it are the tags.
 */

/** `_` → space, whitespace runs collapsed, trimmed; NFC so macOS (NFD) names match typed text. */
export function cleanLabel(text: string): string {
  return text.normalize('NFC').replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
}

/** `Door_Slam 02.wav` → `Door Slam 02`; only the last extension goes (`a.b.c.wav` → `a.b.c`). */
export function captionFromPath(relPath: string): string {
  const name = relPath.split('/').at(-1) ?? '';
  const dot = name.lastIndexOf('.');
  return cleanLabel(dot > 0 ? name.slice(0, dot) : name);
}

/** The folder names between the root and the file, cleaned like captions, deduplicated, in path order. */
export function tagsFromPath(relPath: string): string[] {
  const folders = relPath.split('/').slice(0, -1);
  const tags: string[] = [];
  for (const folder of folders) {
    if (folder === '.' || folder === '..') continue;
    const tag = cleanLabel(folder);
    if (tag !== '' && !tags.includes(tag)) tags.push(tag);
  }
  return tags;
}
