/**
 * Epidemic Sound tracks → clip records (pure), with LAION's captions (preprocess_Epidemic.py):
 * the title without trailing digits, and "the sounds of a, b, and c." from the metadata tags. Two
 * edge cases LAION's formula got wrong are repaired: one tag gives "the sounds of a." (LAION: "the
 * sounds of , and a."), none gives no second caption (LAION crashed). `tag` = [category, genres…] +
 * metadataTags, as LAION built it, without repeats.
 */
import type { ClipRecord } from '../../schemas/clip.ts';

function tidy(text: unknown): string {
  return typeof text === 'string' ? text.normalize('NFC').replace(/\s+/g, ' ').trim() : '';
}

/** `Door Creak 12` → `Door Creak`. */
export function titleCaption(title: string): string | null {
  const text = tidy(tidy(title).replace(/\d+$/, ''));
  return text === '' ? null : text;
}

export function soundsOfCaption(tags: string[]): string | null {
  const clean = tags.map(tidy).filter((t) => t !== '');
  if (clean.length === 0) return null;
  if (clean.length === 1) return `the sounds of ${clean[0]}.`;
  return `the sounds of ${clean.slice(0, -1).join(', ')}, and ${clean.at(-1)}.`;
}

/** Track entity keys in a stable order: numeric ids ascending, then any others lexically. */
export function orderedTrackIds(tracks: Record<string, unknown>): string[] {
  return Object.keys(tracks).sort((a, b) => {
    const x = /^\d+$/.test(a);
    const y = /^\d+$/.test(b);
    if (x && y) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
    if (x !== y) return x ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

export function recordFromTrack(key: string, track: Record<string, unknown>, category: string, options: { source: string; license: string }): ClipRecord {
  const id = typeof track.id === 'string' || typeof track.id === 'number' ? String(track.id) : key;
  const genres = Array.isArray(track.genres) ? track.genres : [];
  const genreTags = genres.map((g) => tidy((g as { displayTag?: unknown; tag?: unknown } | null)?.displayTag ?? (g as { tag?: unknown } | null)?.tag));
  const metadataTags = Array.isArray(track.metadataTags) ? track.metadataTags.map(tidy).filter((t) => t !== '') : [];
  const url = (track.stems as { full?: { lqMp3Url?: unknown } } | undefined)?.full?.lqMp3Url;
  const title = titleCaption(typeof track.title === 'string' ? track.title : '');
  const text = [title, soundsOfCaption(metadataTags)].filter((c): c is string => c !== null);
  const valid = typeof url === 'string' && /^https?:\/\//i.test(url);
  return {
    source: options.source,
    id,
    audio: valid ? url : `epidemic:${id}`,
    text,
    tags: [...new Set([tidy(category), ...genreTags, ...metadataTags].filter((t) => t !== ''))],
    license: options.license,
    original: { ...track, category },
    ...(valid ? {} : { invalid: `Epidemic track ${id} has no stems.full.lqMp3Url` }),
  };
}
